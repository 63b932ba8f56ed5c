import type { Readable } from 'node:stream';
import { EngineError, messageOf } from '../../errors';
import { isIndexType, isManifestType } from '../../images/media-types';
import { parseImageConfig, type Descriptor, type ImageManifest, type Platform } from '../../images/models';
import { familiarName, referenceString, type Reference } from '../../images/reference';
import { isDigest, type Digest } from '../../util/digest';
import { Authorizer } from './auth';
import { parseChallenges, type Challenge } from './challenge';
import type { Endpoint } from './endpoints';
import { badAnswer, RegistryError, statusError } from './errors';
import { DEFAULT_PLATFORM, normalizePlatform, platformMatches, platformString, selectPlatform } from './platform';
import type { Transport } from './transport';
import type {
  BlobStream,
  FetchedManifest,
  RegistryRequest,
  RegistryResponse,
  RegistrySession,
  ResolvedImage,
  SessionOptions,
} from './types';
import { MANIFEST_ACCEPT, MANIFEST_SIZE_LIMIT, readDigested, verifyManifest } from './verify';

/** Config blobs above this are refused. */
const CONFIG_SIZE_LIMIT = 8 * 1024 * 1024;
/** Error bodies are read up to this much. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** An index may point at an index; no deeper. */
const MAX_INDEX_DEPTH = 2;

/** What a registry endpoint said to `GET /v2/`: how it wants to be authenticated. */
export interface PingResult {
  challenges: Challenge[];
}

/** The registry-wide state a session needs from its RegistryHosts. */
export interface SessionContext {
  transport: Transport;
  /** Pings an endpoint (cached per endpoint by the hosts object). */
  ping(endpoint: Endpoint, registry: string, signal?: AbortSignal): Promise<PingResult>;
  /** The endpoint a session settled on (the hosts object remembers an insecure registry's scheme). */
  found?(endpoint: Endpoint): void;
}

export class Session implements RegistrySession {
  readonly registry: string;
  readonly repository: string;
  private readonly authorizer: Authorizer;
  private readonly scopes: string[];
  /** The endpoint in use: found by the first request, changed only by a mirror fallback. */
  private active: { endpoint: Endpoint; ping: PingResult } | undefined;
  private activeIndex = 0;
  private connecting: Promise<{ endpoint: Endpoint; ping: PingResult }> | undefined;

  constructor(
    readonly ref: Reference,
    private readonly endpoints: Endpoint[],
    private readonly ctx: SessionContext,
    private readonly opts: SessionOptions = {},
  ) {
    this.registry = ref.domain;
    this.repository = ref.path;
    this.authorizer = new Authorizer(ctx.transport, this.registry, opts.auth ?? {}, { signal: opts.signal });
    this.scopes = [`repository:${ref.path}:${(opts.actions ?? ['pull']).join(',')}`, ...(opts.extraScopes ?? [])];
  }

  async request(req: RegistryRequest): Promise<RegistryResponse> {
    const { endpoint, ping } = await this.connect();
    const url = this.urlFor(endpoint, req.path);
    let challenges = ping.challenges;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...req.headers };
      const authorization = challenges.length > 0 ? await this.authorizer.header(challenges, this.scopes, { method: req.method, url }) : undefined;
      if (authorization !== undefined) headers.Authorization = authorization;
      const res = await this.ctx.transport.send({
        method: req.method,
        url,
        headers,
        body: req.body,
        insecureTls: endpoint.insecureTls,
        signal: this.opts.signal,
        registry: this.registry,
      });
      const accepted = req.accept ?? ((s: number) => s >= 200 && s < 300);
      if (res.status === 401 && attempt === 0 && !accepted(401)) {
        // The token expired or lacks a scope, or the registry wants auth /v2/ did not ask for.
        const fresh = parseChallenges(res.headers['www-authenticate']);
        const retriable = fresh.length > 0 && (fresh.some((c) => c.params.error === 'insufficient_scope' || c.params.error === 'invalid_token') || authorization === undefined || challenges.length === 0);
        if (retriable) {
          await discard(res.body);
          this.authorizer.invalidate();
          challenges = fresh;
          continue;
        }
      }
      if (!accepted(res.status)) {
        const body = await readLimited(res.body, ERROR_BODY_LIMIT).catch(() => Buffer.alloc(0));
        throw statusError(this.registry, req.method, res.url, res.status, res.statusText, body);
      }
      return {
        status: res.status,
        headers: res.headers,
        url: res.url,
        body: res.body,
        bytes: (limit?: number) => readLimited(res.body, limit ?? Number.MAX_SAFE_INTEGER, this.registry, res.url),
        discard: () => discard(res.body),
      };
    }
  }

  async fetchManifest(tagOrDigest: string): Promise<FetchedManifest> {
    return this.withMirrorFallback(() => this.fetchManifestOnce(tagOrDigest));
  }

  async resolve(platform: Platform = DEFAULT_PLATFORM): Promise<ResolvedImage> {
    return this.withMirrorFallback(() => this.resolveOnce(platform));
  }

  async fetchBlob(desc: Descriptor, limit = CONFIG_SIZE_LIMIT): Promise<Buffer> {
    if (desc.size > limit) throw badAnswer(this.registry, `blob ${desc.digest} is ${desc.size} bytes, more than the ${limit} allowed here`);
    const res = await this.request({ method: 'GET', path: `blobs/${desc.digest}` });
    const { bytes, digest } = await readDigested(this.registry, res.body, Math.min(limit, desc.size), `blob ${desc.digest}`);
    if (digest !== desc.digest || bytes.length !== desc.size) {
      throw badAnswer(this.registry, `blob ${desc.digest} failed verification: got ${bytes.length} bytes with digest ${digest}, expected ${desc.size}`);
    }
    return bytes;
  }

  async openBlob(desc: Descriptor, opts: { offset?: number } = {}): Promise<BlobStream> {
    const offset = opts.offset ?? 0;
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const res = await this.request({ method: 'GET', path: `blobs/${desc.digest}`, headers });
    if (offset > 0 && res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (range === null || Number(range[1]) !== offset) {
        await res.discard();
        throw badAnswer(this.registry, `blob ${desc.digest}: asked for bytes from ${offset}, got Content-Range ${JSON.stringify(res.headers['content-range'] ?? '')}`);
      }
      return { stream: res.body, offset, size: desc.size };
    }
    return { stream: res.body, offset: 0, size: desc.size };
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const res = await this.request({ method: 'HEAD', path: `blobs/${digest}`, accept: (s) => (s >= 200 && s < 300) || s === 404 });
    await res.discard();
    return res.status !== 404;
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let path = 'tags/list';
    for (let page = 0; page < 10_000; page++) {
      const res = await this.request({ method: 'GET', path });
      const body = await res.bytes(16 * 1024 * 1024);
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch (err) {
        throw badAnswer(this.registry, `tags list of ${this.repository} is not JSON: ${messageOf(err)}`, err);
      }
      if (parsed.tags !== null && parsed.tags !== undefined && !(Array.isArray(parsed.tags) && parsed.tags.every((t) => typeof t === 'string'))) {
        throw badAnswer(this.registry, `tags list of ${this.repository} has no list of tags`);
      }
      tags.push(...((parsed.tags as string[] | null | undefined) ?? []));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1];
      if (next === undefined) return tags;
      path = next;
    }
    throw badAnswer(this.registry, `tags list of ${this.repository} does not end`);
  }

  private async fetchManifestOnce(tagOrDigest: string): Promise<FetchedManifest> {
    const expected = isDigest(tagOrDigest) ? tagOrDigest : undefined;
    let res: RegistryResponse;
    try {
      res = await this.request({ method: 'GET', path: `manifests/${tagOrDigest}`, headers: { Accept: MANIFEST_ACCEPT.join(', ') } });
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) {
        const name = familiarName(this.ref);
        throw new RegistryError('NotFound', `manifest for ${name}${expected ? '@' : ':'}${tagOrDigest} not found: ${err.message}`, {
          registry: this.registry,
          status: 404,
          entries: err.entries,
          cause: err,
        });
      }
      throw err;
    }
    const length = Number(res.headers['content-length'] ?? NaN);
    if (Number.isFinite(length) && length > MANIFEST_SIZE_LIMIT) {
      await res.discard();
      throw badAnswer(this.registry, `manifest ${tagOrDigest} of ${this.repository} is ${length} bytes, more than the ${MANIFEST_SIZE_LIMIT} allowed`);
    }
    const read = await readDigested(this.registry, res.body, MANIFEST_SIZE_LIMIT, `manifest ${tagOrDigest} of ${this.repository}`);
    return verifyManifest(
      this.registry,
      read,
      { contentType: header(res.headers['content-type']), dockerContentDigest: header(res.headers['docker-content-digest']) },
      expected,
    );
  }

  private async resolveOnce(wanted: Platform): Promise<ResolvedImage> {
    const want = normalizePlatform(wanted);
    const root = await this.fetchManifestOnce(this.ref.digest ?? this.ref.tag ?? 'latest');
    let current = root;
    let chosenPlatform: Platform | undefined;
    for (let depth = 0; current.index !== undefined; depth++) {
      if (depth >= MAX_INDEX_DEPTH) throw badAnswer(this.registry, `index ${current.descriptor.digest} nests indexes deeper than ${MAX_INDEX_DEPTH}`);
      const candidates = current.index.manifests.filter((d) => isManifestType(d.mediaType) || isIndexType(d.mediaType));
      const entry = selectPlatform(candidates, want);
      if (entry === undefined) {
        throw new EngineError('NotFound', `no matching manifest for ${platformString(want)} in the manifest list entries`);
      }
      chosenPlatform = entry.platform;
      const child = await this.fetchManifestOnce(entry.digest);
      if (child.descriptor.mediaType !== entry.mediaType && !(isManifestType(child.descriptor.mediaType) && isManifestType(entry.mediaType))) {
        throw badAnswer(this.registry, `index entry ${entry.digest} says ${entry.mediaType}, the document is ${child.descriptor.mediaType}`);
      }
      current = child;
    }
    const manifest = current as FetchedManifest & { manifest: ImageManifest };
    const configDesc = manifest.manifest.config;
    const configBytes = await this.fetchBlob(configDesc);
    let config;
    try {
      config = parseImageConfig(configBytes);
    } catch (err) {
      throw badAnswer(this.registry, `image config ${configDesc.digest}: ${messageOf(err)}`, err);
    }
    const platform: Platform = chosenPlatform ?? { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
    if (chosenPlatform === undefined && !platformMatches(platform, want)) {
      throw new EngineError(
        'NotFound',
        `image with reference ${referenceString(this.ref)} was found but does not match the specified platform: wanted ${platformString(want)}, actual: ${platformString(platform)}`,
      );
    }
    return {
      ref: this.ref,
      digest: root.descriptor.digest,
      root,
      manifest,
      config: { descriptor: configDesc, bytes: configBytes, config },
      platform,
    };
  }

  /** Finds and pings the endpoint to use: the first that answers (insecure https falls back to http). */
  private connect(): Promise<{ endpoint: Endpoint; ping: PingResult }> {
    if (this.active !== undefined) return Promise.resolve(this.active);
    // One search at a time: parallel first requests share it instead of racing over activeIndex.
    this.connecting ??= this.findEndpoint().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async findEndpoint(): Promise<{ endpoint: Endpoint; ping: PingResult }> {
    let lastError: unknown;
    for (; this.activeIndex < this.endpoints.length; this.activeIndex++) {
      const endpoint = this.endpoints[this.activeIndex]!;
      try {
        const ping = await this.ctx.ping(endpoint, this.registry, this.opts.signal);
        this.active = { endpoint, ping };
        this.ctx.found?.(endpoint);
        return this.active;
      } catch (err) {
        lastError = err;
        const next = this.endpoints[this.activeIndex + 1];
        // Only a mirror, or one scheme of an insecure registry (https unverified, plain http), may fall through to the next.
        if (next === undefined || !(endpoint.mirror || (next.base.host === endpoint.base.host && (endpoint.insecureTls || next.insecureTls)))) throw err;
      }
    }
    throw lastError;
  }

  /** Runs a read; when the endpoint is a mirror and it fails, retries on the next endpoint. */
  private async withMirrorFallback<T>(read: () => Promise<T>): Promise<T> {
    for (;;) {
      await this.connect();
      const { endpoint } = this.active!;
      try {
        return await read();
      } catch (err) {
        if (!endpoint.mirror || this.activeIndex + 1 >= this.endpoints.length || (err instanceof EngineError && !(err instanceof RegistryError))) throw err;
        this.active = undefined;
        this.activeIndex++;
      }
    }
  }

  private urlFor(endpoint: Endpoint, path: string): URL {
    if (/^https?:\/\//.test(path)) return new URL(path);
    if (path.startsWith('/')) return new URL(path, endpoint.base);
    return new URL(`/v2/${this.repository}/${path}`, endpoint.base);
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function discard(stream: Readable): Promise<void> {
  stream.resume();
  await new Promise<void>((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.once('end', resolve);
    stream.once('error', () => resolve());
    stream.once('close', resolve);
  });
}

async function readLimited(stream: Readable, limit: number, registry?: string, url?: URL): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        stream.destroy();
        if (registry !== undefined) throw badAnswer(registry, `the answer from ${url?.href ?? registry} is larger than ${limit} bytes`);
        break;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError || registry === undefined) throw err;
    throw new RegistryError('Unavailable', `reading ${url?.href ?? 'an answer'} from ${registry}: ${messageOf(err)}`, { registry, cause: err });
  }
  return Buffer.concat(chunks);
}
