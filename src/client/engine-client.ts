import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { type DaemonHost, resolveHost } from './host';
import { type Hijacked, type Query, type RequestOptions, Transport } from './transport';
import { parseJsonStream } from './json-stream';
import type {
  BuildCachePruneResponse,
  ContainerChangeResponseItem,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerPruneResponse,
  ContainerStatsResponse,
  ContainerSummary,
  ContainerTopResponse,
  ContainerWaitResponse,
  EventMessage,
  ExecConfig,
  ExecInspect,
  ExecStartConfig,
  Filters,
  IdResponse,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImagesPruneResponse,
  ImageSummary,
  NetworksPruneResponse,
  NetworkResource,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkConnectRequest,
  NetworkDisconnectRequest,
  PathStat,
  SystemDfResponse,
  SystemInfo,
  SystemVersion,
  Volume,
  VolumeCreateRequest,
  VolumeListResponse,
  VolumesPruneResponse,
  WaitCondition,
} from './types';

/** The newest Engine API version this client speaks. */
export const CLIENT_API_VERSION = '1.45';
/** What dockerd assumes when /_ping carries no API-Version header. */
const FALLBACK_API_VERSION = '1.24';

export interface EngineClientOptions {
  host?: DaemonHost;
  /** Skip negotiation and use this version. */
  apiVersion?: string;
  userAgent?: string;
}

export interface PingResult {
  apiVersion: string;
  osType?: string;
  experimental: boolean;
}

export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function filtersParam(filters: Filters | undefined): string | undefined {
  if (!filters || Object.keys(filters).length === 0) return undefined;
  return JSON.stringify(filters);
}

const enc = encodeURIComponent;

export interface ContainerListOptions {
  all?: boolean;
  limit?: number;
  size?: boolean;
  filters?: Filters;
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string;
  until?: string;
  timestamps?: boolean;
  tail?: string;
}

export interface AttachOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  logs?: boolean;
  detachKeys?: string;
}

export interface EventsOptions {
  since?: string;
  until?: string;
  filters?: Filters;
}

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause?: boolean;
  changes?: string[];
  config?: Record<string, unknown>;
}

export interface ImportOptions {
  /** '-' with a tar body, or a URL the daemon fetches. */
  fromSrc: string;
  repo?: string;
  tag?: string;
  message?: string;
  changes?: string[];
  platform?: string;
}

/** A container archive download: the stat of the path and a tar of it. */
export interface ArchiveDownload {
  stat: PathStat;
  tar: IncomingMessage;
}

const PATH_STAT_HEADER = 'x-docker-container-path-stat';

function decodePathStat(res: IncomingMessage): PathStat {
  const raw = res.headers[PATH_STAT_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) throw new Error('the daemon sent no X-Docker-Container-Path-Stat header');
  return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as PathStat;
}

/**
 * A typed Docker Engine API client over a unix socket (or tcp). The API version is
 * negotiated on first use with /_ping: min(daemon's API-Version, CLIENT_API_VERSION).
 */
export class EngineClient {
  readonly host: DaemonHost;
  private readonly transport: Transport;
  private version: Promise<string> | undefined;

  constructor(opts: EngineClientOptions = {}) {
    this.host = opts.host ?? resolveHost();
    this.transport = new Transport(this.host, opts.userAgent);
    if (opts.apiVersion) this.version = Promise.resolve(opts.apiVersion);
  }

  /** GET /_ping (unversioned). */
  async ping(): Promise<PingResult> {
    const res = await this.transport.request('GET', '/_ping');
    res.resume();
    const header = (name: string) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      apiVersion: header('api-version') ?? FALLBACK_API_VERSION,
      osType: header('ostype'),
      experimental: header('docker-experimental') === 'true',
    };
  }

  /** The negotiated API version (pings once). */
  apiVersion(): Promise<string> {
    this.version ??= this.ping().then((p) => (compareApiVersions(p.apiVersion, CLIENT_API_VERSION) < 0 ? p.apiVersion : CLIENT_API_VERSION));
    const pending = this.version;
    pending.catch(() => {
      if (this.version === pending) this.version = undefined;
    });
    return pending;
  }

  private async versioned(path: string): Promise<string> {
    return `/v${await this.apiVersion()}${path}`;
  }

  // ---- generic access ----

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    return this.transport.request(method, await this.versioned(path), opts);
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const text = await this.transport.text(method, await this.versioned(path), opts);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  private async noContent(method: string, path: string, query?: Query): Promise<void> {
    const res = await this.request(method, path, { query });
    res.resume();
    await new Promise<void>((resolve) => (res.complete ? resolve() : res.once('end', resolve).once('close', resolve)));
  }

  async hijack(path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    return this.transport.hijack(await this.versioned(path), opts);
  }

  close(): void {
    this.transport.close();
  }

  // ---- system ----

  systemVersion(): Promise<SystemVersion> {
    return this.json('GET', '/version');
  }

  info(): Promise<SystemInfo> {
    return this.json('GET', '/info');
  }

  systemDf(): Promise<SystemDfResponse> {
    return this.json('GET', '/system/df');
  }

  async *events(opts: EventsOptions = {}): AsyncGenerator<EventMessage> {
    const res = await this.request('GET', '/events', { query: { since: opts.since, until: opts.until, filters: filtersParam(opts.filters) } });
    yield* parseJsonStream<EventMessage>(res);
  }

  // ---- containers ----

  containerCreate(config: ContainerCreateRequest, opts: { name?: string; platform?: string } = {}): Promise<ContainerCreateResponse> {
    return this.json('POST', '/containers/create', { query: { name: opts.name, platform: opts.platform }, body: config });
  }

  containerInspect(id: string, opts: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.json('GET', `/containers/${enc(id)}/json`, { query: { size: opts.size || undefined } });
  }

  containerList(opts: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    return this.json('GET', '/containers/json', {
      query: { all: opts.all || undefined, limit: opts.limit, size: opts.size || undefined, filters: filtersParam(opts.filters) },
    });
  }

  containerStart(id: string, opts: { detachKeys?: string } = {}): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/start`, { detachKeys: opts.detachKeys });
  }

  containerStop(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/stop`, { t: opts.timeout, signal: opts.signal });
  }

  containerRestart(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/restart`, { t: opts.timeout, signal: opts.signal });
  }

  containerKill(id: string, signal?: string): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/kill`, { signal });
  }

  containerRemove(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    return this.noContent('DELETE', `/containers/${enc(id)}`, { force: opts.force || undefined, v: opts.volumes || undefined, link: opts.link || undefined });
  }

  containerWait(id: string, condition?: WaitCondition): Promise<ContainerWaitResponse> {
    return this.json('POST', `/containers/${enc(id)}/wait`, { query: { condition } });
  }

  containerPause(id: string): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/pause`);
  }

  containerUnpause(id: string): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/unpause`);
  }

  containerRename(id: string, name: string): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/rename`, { name });
  }

  containerTop(id: string, psArgs?: string): Promise<ContainerTopResponse> {
    return this.json('GET', `/containers/${enc(id)}/top`, { query: { ps_args: psArgs } });
  }

  /** Stats samples: one a second while `stream`, else one (after ~1 s, with precpu_stats filled). */
  async *containerStats(id: string, opts: { stream: boolean }): AsyncGenerator<ContainerStatsResponse> {
    const res = await this.request('GET', `/containers/${enc(id)}/stats`, { query: { stream: opts.stream } });
    try {
      yield* parseJsonStream<ContainerStatsResponse>(res);
    } finally {
      res.destroy();
    }
  }

  /** The raw log stream: multiplexed unless the container has a TTY. */
  containerLogs(id: string, opts: LogsOptions): Promise<IncomingMessage> {
    return this.request('GET', `/containers/${enc(id)}/logs`, {
      query: {
        follow: opts.follow || undefined,
        stdout: opts.stdout ?? true,
        stderr: opts.stderr ?? true,
        since: opts.since,
        until: opts.until,
        timestamps: opts.timestamps || undefined,
        tail: opts.tail,
      },
    });
  }

  containerChanges(id: string): Promise<ContainerChangeResponseItem[] | null> {
    return this.json('GET', `/containers/${enc(id)}/changes`);
  }

  containerExport(id: string): Promise<IncomingMessage> {
    return this.request('GET', `/containers/${enc(id)}/export`);
  }

  async containerStatPath(id: string, path: string): Promise<PathStat> {
    const res = await this.request('HEAD', `/containers/${enc(id)}/archive`, { query: { path } });
    res.resume();
    return decodePathStat(res);
  }

  async containerArchiveGet(id: string, path: string): Promise<ArchiveDownload> {
    const res = await this.request('GET', `/containers/${enc(id)}/archive`, { query: { path } });
    return { stat: decodePathStat(res), tar: res };
  }

  async containerArchivePut(id: string, path: string, tar: Readable, opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {}): Promise<void> {
    const res = await this.request('PUT', `/containers/${enc(id)}/archive`, {
      query: { path, noOverwriteDirNonDir: opts.noOverwriteDirNonDir ?? true, copyUIDGID: opts.copyUIDGID || undefined },
      body: tar,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    res.resume();
  }

  containerResize(id: string, height: number, width: number): Promise<void> {
    return this.noContent('POST', `/containers/${enc(id)}/resize`, { h: height, w: width });
  }

  containerAttach(id: string, opts: AttachOptions): Promise<Hijacked> {
    return this.hijack(`/containers/${enc(id)}/attach`, {
      query: {
        stream: opts.stream ?? true,
        stdin: opts.stdin || undefined,
        stdout: opts.stdout || undefined,
        stderr: opts.stderr || undefined,
        logs: opts.logs || undefined,
        detachKeys: opts.detachKeys,
      },
      body: Buffer.alloc(0),
    });
  }

  containersPrune(filters?: Filters): Promise<ContainerPruneResponse> {
    return this.json('POST', '/containers/prune', { query: { filters: filtersParam(filters) } });
  }

  commit(opts: CommitOptions): Promise<IdResponse> {
    return this.json('POST', '/commit', {
      query: {
        container: opts.container,
        repo: opts.repo,
        tag: opts.tag,
        comment: opts.comment,
        author: opts.author,
        pause: opts.pause ?? true,
        changes: opts.changes && opts.changes.length > 0 ? opts.changes : undefined,
      },
      body: opts.config ?? {},
    });
  }

  // ---- exec ----

  execCreate(container: string, config: ExecConfig): Promise<IdResponse> {
    return this.json('POST', `/containers/${enc(container)}/exec`, { body: config });
  }

  execStartAttached(execId: string, config: ExecStartConfig): Promise<Hijacked> {
    return this.hijack(`/exec/${enc(execId)}/start`, { body: { ...config, Detach: false } });
  }

  async execStartDetached(execId: string, config: ExecStartConfig = {}): Promise<void> {
    const res = await this.request('POST', `/exec/${enc(execId)}/start`, { body: { ...config, Detach: true } });
    res.resume();
  }

  execInspect(execId: string): Promise<ExecInspect> {
    return this.json('GET', `/exec/${enc(execId)}/json`);
  }

  execResize(execId: string, height: number, width: number): Promise<void> {
    return this.noContent('POST', `/exec/${enc(execId)}/resize`, { h: height, w: width });
  }

  // ---- images ----

  imageList(opts: { all?: boolean; digests?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> {
    return this.json('GET', '/images/json', { query: { all: opts.all || undefined, digests: opts.digests || undefined, filters: filtersParam(opts.filters) } });
  }

  imageInspect(name: string): Promise<ImageInspect> {
    return this.json('GET', `/images/${enc(name)}/json`);
  }

  imageHistory(name: string): Promise<ImageHistoryItem[]> {
    return this.json('GET', `/images/${enc(name)}/history`);
  }

  imageRemove(name: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    return this.json('DELETE', `/images/${enc(name)}`, { query: { force: opts.force || undefined, noprune: opts.noPrune || undefined } });
  }

  imageTag(name: string, repo: string, tag?: string): Promise<void> {
    return this.noContent('POST', `/images/${enc(name)}/tag`, { repo, tag });
  }

  imagesPrune(filters?: Filters): Promise<ImagesPruneResponse> {
    return this.json('POST', '/images/prune', { query: { filters: filtersParam(filters) } });
  }

  imageSave(names: string[]): Promise<IncomingMessage> {
    return this.request('GET', '/images/get', { query: { names } });
  }

  /** POST /images/load: the answer is a JSON message stream (or one JSON object when quiet). */
  imageLoad(tar: Readable, opts: { quiet?: boolean } = {}): Promise<IncomingMessage> {
    return this.request('POST', '/images/load', { query: { quiet: opts.quiet || undefined }, body: tar, headers: { 'Content-Type': 'application/x-tar' } });
  }

  imageImport(source: Readable | undefined, opts: ImportOptions): Promise<IncomingMessage> {
    return this.request('POST', '/images/create', {
      query: {
        fromSrc: opts.fromSrc,
        repo: opts.repo,
        tag: opts.tag,
        message: opts.message,
        changes: opts.changes && opts.changes.length > 0 ? opts.changes : undefined,
        platform: opts.platform,
      },
      body: source,
      headers: source ? { 'Content-Type': 'application/x-tar' } : {},
    });
  }

  /** POST /images/{name}/push: a JSON progress stream; no tag pushes every tag of the repository. */
  imagePush(name: string, opts: { tag?: string; registryAuth?: string } = {}): Promise<IncomingMessage> {
    return this.request('POST', `/images/${enc(name)}/push`, { query: { tag: opts.tag }, headers: opts.registryAuth !== undefined ? { 'X-Registry-Auth': opts.registryAuth } : {} });
  }

  /** POST /images/create?fromImage=: a JSON progress stream; `tag` is a tag or a digest, none pulls every tag. */
  imagePull(image: string, tag?: string, opts: { platform?: string; registryAuth?: string } = {}): Promise<IncomingMessage> {
    return this.request('POST', '/images/create', {
      query: { fromImage: image, tag, platform: opts.platform },
      headers: opts.registryAuth !== undefined ? { 'X-Registry-Auth': opts.registryAuth } : {},
    });
  }

  /** POST /build: the context tar as the body; the answer is the classic builder's JSON stream. */
  imageBuild(context: Readable, opts: { query: Query; headers: Record<string, string> }): Promise<IncomingMessage> {
    return this.request('POST', '/build', { query: opts.query, body: context, headers: opts.headers });
  }

  /** Berth-only, unix socket only: builds from a folder on the daemon's host, read in place (the same query and stream as POST /build). */
  imageBuildLocal(context: { context: string; dev: string; ino: string; dockerfileText?: string }, opts: { query: Query; headers: Record<string, string> }): Promise<IncomingMessage> {
    return this.request('POST', '/berth/build/local', { query: opts.query, body: context, headers: opts.headers });
  }

  /** Berth-only: builds busybox or debian locally (JSON progress stream). */
  imageBootstrap(name: string): Promise<IncomingMessage> {
    return this.request('POST', '/berth/images/bootstrap', { query: { name } });
  }

  // ---- volumes ----

  volumeList(filters?: Filters): Promise<VolumeListResponse> {
    return this.json('GET', '/volumes', { query: { filters: filtersParam(filters) } });
  }

  volumeCreate(body: VolumeCreateRequest): Promise<Volume> {
    return this.json('POST', '/volumes/create', { body });
  }

  volumeInspect(name: string): Promise<Volume> {
    return this.json('GET', `/volumes/${enc(name)}`);
  }

  volumeRemove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.noContent('DELETE', `/volumes/${enc(name)}`, { force: opts.force || undefined });
  }

  // ---- networks ----

  networkList(filters?: Filters): Promise<NetworkResource[]> {
    return this.json('GET', '/networks', { query: { filters: filtersParam(filters) } });
  }

  networkCreate(body: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.json('POST', '/networks/create', { body });
  }

  networkInspect(idOrName: string): Promise<NetworkResource> {
    return this.json('GET', `/networks/${enc(idOrName)}`);
  }

  networkRemove(idOrName: string): Promise<void> {
    return this.noContent('DELETE', `/networks/${enc(idOrName)}`);
  }

  networkConnect(idOrName: string, body: NetworkConnectRequest): Promise<void> {
    return this.json<void>('POST', `/networks/${enc(idOrName)}/connect`, { body });
  }

  networkDisconnect(idOrName: string, body: NetworkDisconnectRequest): Promise<void> {
    return this.json<void>('POST', `/networks/${enc(idOrName)}/disconnect`, { body });
  }

  // ---- other prunes ----

  volumesPrune(filters?: Filters): Promise<VolumesPruneResponse> {
    return this.json('POST', '/volumes/prune', { query: { filters: filtersParam(filters) } });
  }

  networksPrune(filters?: Filters): Promise<NetworksPruneResponse> {
    return this.json('POST', '/networks/prune', { query: { filters: filtersParam(filters) } });
  }

  buildCachePrune(opts: { all?: boolean; filters?: Filters } = {}): Promise<BuildCachePruneResponse> {
    return this.json('POST', '/build/prune', { query: { all: opts.all || undefined, filters: filtersParam(opts.filters) } });
  }
}
