import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { JsonStreamMessage } from '../../../api/types/common';
import { LABEL_UNCOMPRESSED, type ContentWriter } from '../../../content/types';
import { errorKind, internal, invalidArgument, messageOf, notFound } from '../../../errors';
import { sourceLabelKey, sourceRepositories, withSourceRepository } from '../../../images/distribution-source';
import { MediaTypes } from '../../../images/media-types';
import type { Descriptor } from '../../../images/models';
import { familiarName, familiarString, fullName, isValidTag, parseNormalizedNamed, referenceString, type Reference } from '../../../images/reference';
import { cancelUpload, mountBlob, putManifest, uploadBlob, uploadStream, type PushSession } from '../../../registry/client/push';
import { RegistryError } from '../../../registry/client/errors';
import { Digester, chainIds, type Digest } from '../../../util/digest';
import { batchingSink } from '../../../util/batching-sink';
import { auxMessage, progressBytes, progressUpdate, statusMessage } from '../../../util/json-progress';
import type { LeasedWrite } from '../creation';
import type { ImageResolver, ImageStores } from '../resolver';
import type { ResolvedImage } from '../types';
import { createAdaptiveGzip } from './adaptive-gzip';
import { keepCompressed, keptCompressed } from './compressed-layers';
import { MessageChannel } from './message-channel';
import { buildManifest } from './schema2';

/** dockerd's maxUploadAttempts, and its delay step between them (5 s, 10 s, ...). */
const UPLOAD_ATTEMPTS = 5;
const RETRY_DELAY_STEP_S = 5;
/** Registry error codes no retry can fix (dockerd's retryOnError). */
const FINAL_CODES = new Set(['UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS', 'NAME_UNKNOWN']);
/** dockerd's default max-concurrent-uploads. */
const CONCURRENT_UPLOADS = 5;
const GZIP_CHUNK_BYTES = 128 * 1024;
/** Mount attempts per blob, at most (dockerd tries up to 3 or 4 candidates by layer size). */
const MOUNT_ATTEMPTS = 3;
/** Other repositories whose pull grant a push asks for, for mounts. */
const MAX_MOUNT_SCOPES = 10;
/** dockerd's progress reader: an update per 512 KiB, at most one per 100 ms, and always the last. */
const PROGRESS_BYTES = 512 * 1024;
const PROGRESS_INTERVAL_MS = 100;

/** Opens the authenticated session to the repository pushed to (the registry client, with the request's credentials). */
export interface PushSessions {
  session(ref: Reference, opts: { extraScopes: string[]; signal: AbortSignal }): PushSession;
}

export interface PushOptions {
  /** The tag to push; without it every tag of the repository (`push -a`, the API without `tag`). */
  tag?: string;
  sessions: PushSessions;
  signal: AbortSignal;
  /** Upload blobs in PATCHes of this size (default: one PUT per blob). */
  chunkSize?: number;
}

export interface PushDeps {
  stores: ImageStores;
  resolver: ImageResolver;
  leased<T>(operation: string, fn: (w: LeasedWrite) => Promise<T>): Promise<T>;
}

/** A layer as the pushed manifest lists it, and whether it is the image's own manifest entry. */
interface PushedLayer {
  descriptor: Descriptor;
  own: boolean;
}

/** The bytes a layer is sent as, when they exist as a blob. */
interface LayerBlob {
  digest: Digest;
  size: number;
  mediaType: string;
  own: boolean;
}

/**
 * `docker push`, after dockerd's v2 pusher: for each tag, the layers top first (Preparing,
 * Waiting past 5 at a time), each skipped when the registry has it (HEAD: "Layer already
 * exists"), mounted from another repository of the registry the blob is known to be in
 * ("Mounted from x"), or uploaded ("Pushing" with progress, "Pushed"); then the config and the
 * manifest: the image's own bytes when its layers are stored compressed, else a schema 2
 * manifest over gzip blobs made on the way (and kept, so the next push sends the same bytes).
 * Everything read is held by a lease, so no removal or collection takes it mid-push.
 */
export class ImagePusher {
  constructor(private readonly deps: PushDeps) {}

  /** Checks the name before anything is sent (a bad one is an HTTP error), then streams the push's messages. */
  async *push(name: string, opts: PushOptions): AsyncGenerator<JsonStreamMessage> {
    const target = pushTarget(name, opts.tag);
    const channel = new MessageChannel<JsonStreamMessage>();
    const stop = new AbortController();
    const signal = AbortSignal.any([opts.signal, stop.signal]);
    const run = this.run(target, { ...opts, signal }, channel).then(
      () => channel.end(),
      (err: unknown) => channel.end(err),
    );
    try {
      yield* channel;
    } finally {
      stop.abort(new Error('push ended'));
      await run;
    }
  }

  private async run(ref: Reference, opts: PushOptions, out: MessageChannel<JsonStreamMessage>): Promise<void> {
    const { metadata } = this.deps.stores;
    out.send(statusMessage(`The push refers to repository [${fullName(ref)}]`));
    const tagged = metadata
      .allRefs()
      .filter((r) => r.ref.domain === ref.domain && r.ref.path === ref.path && r.ref.tag !== undefined && r.ref.digest === undefined)
      .sort((a, b) => (referenceString(a.ref) < referenceString(b.ref) ? -1 : 1));
    if (tagged.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
    const tags = ref.tag === undefined ? tagged : tagged.filter((r) => r.ref.tag === ref.tag);
    if (tags.length === 0) throw notFound(`tag does not exist: ${familiarString(ref)}`);

    await this.deps.leased('push', async (w) => {
      const images = new Map<Digest, ResolvedImage>();
      for (const t of tags) if (!images.has(t.id)) images.set(t.id, await this.deps.resolver.resolve(t.id));
      const mountFrom = await this.mountCandidates([...images.values()], ref);
      const session = opts.sessions.session(ref, { extraScopes: mountFrom.slice(0, MAX_MOUNT_SCOPES).map((r) => `repository:${r}:pull`), signal: opts.signal });
      const state: PushState = { session, ref, w, out, opts, remote: new Map() };
      for (const t of tags) {
        await this.pushTag(state, t.ref.tag as string, images.get(t.id) as ResolvedImage);
      }
    });
  }

  /** Repositories of the target registry any of the images' layers came from or went to. */
  private async mountCandidates(images: ResolvedImage[], ref: Reference): Promise<string[]> {
    const { content } = this.deps.stores;
    const repos = new Set<string>();
    for (const image of images) {
      for (const layer of image.manifest.layers) {
        const labels = await content.info(layer.digest).then((i) => i.labels, () => undefined);
        for (const r of sourceRepositories(labels, ref.domain)) if (r !== ref.path) repos.add(r);
      }
    }
    return [...repos];
  }

  private async pushTag(state: PushState, tag: string, image: ResolvedImage): Promise<void> {
    const { out, session, w } = state;
    const { content } = this.deps.stores;
    for (const layer of image.manifest.layers) await w.protectBlob(layer.digest);
    await w.protectBlob(image.manifest.config.digest);
    await w.protectBlob(image.record.target.digest);

    // The config's HEAD goes first and alone: the session connects (and picks http or https)
    // once, before the concurrent layer transfers.
    const config = image.manifest.config;
    const hasConfig = await session.hasBlob(config.digest);

    // Top layer first, as dockerd lists them; one transfer per distinct diff ID.
    const order = image.diffIds.map((_, i) => i).reverse();
    for (const i of order) out.send(progressUpdate(shortId(image.diffIds[i] as Digest), 'Preparing'));
    const slots = new Slots(CONCURRENT_UPLOADS);
    const transfers = new Map<Digest, Promise<PushedLayer>>();
    for (const i of order) {
      const diffId = image.diffIds[i] as Digest;
      if (transfers.has(diffId)) continue;
      const started = slots.tryTake();
      if (!started) out.send(progressUpdate(shortId(diffId), 'Waiting'));
      transfers.set(
        diffId,
        (async () => {
          if (!started) await slots.take();
          try {
            return await this.pushLayerWithRetries(state, image, i);
          } finally {
            slots.give();
          }
        })(),
      );
    }
    const settled = await Promise.allSettled(transfers.values());
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const layers = await Promise.all(image.diffIds.map((d) => transfers.get(d) as Promise<PushedLayer>));

    // The config, as dockerd's manifest builder: a plain upload when the registry lacks it.
    if (!hasConfig) {
      await uploadBlob(session, { digest: config.digest, size: config.size, open: () => content.createReadStream(config.digest) });
    }

    let manifest: { mediaType: string; bytes: Buffer };
    if (layers.every((l) => l.own)) {
      manifest = { mediaType: image.record.target.mediaType ?? image.manifest.mediaType ?? MediaTypes.ociManifest, bytes: await content.readBlob(image.record.target.digest) };
    } else {
      manifest = buildManifest(config, layers.map((l) => l.descriptor));
    }
    const digest = await putManifest(session, tag, manifest.mediaType, manifest.bytes);
    out.send(statusMessage(`${tag}: digest: ${digest} size: ${manifest.bytes.length}`));
    // As dockerd: the image now has this repository's digest (RepoDigests).
    await this.deps.stores.metadata.setRef({ domain: state.ref.domain, path: state.ref.path, digest }, image.id);
    out.send(auxMessage({ Tag: tag, Digest: digest, Size: manifest.bytes.length }));
  }

  /**
   * As dockerd's upload manager: a layer whose transfer failed for a reason that may pass (the
   * connection, the registry's own trouble) is tried again, up to 5 attempts, after 5, 10, 15
   * and 20 seconds, counted down in its progress line ("Retrying in 5 seconds").
   */
  private async pushLayerWithRetries(state: PushState, image: ResolvedImage, i: number): Promise<PushedLayer> {
    const id = shortId(image.diffIds[i] as Digest);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pushLayer(state, image, i);
      } catch (err) {
        if (state.opts.signal.aborted || attempt >= UPLOAD_ATTEMPTS || !mayRetry(err)) throw err;
        this.deps.stores.logger.warn('layer upload failed, retrying', { layer: image.diffIds[i], attempt, error: messageOf(err) });
        for (let left = attempt * RETRY_DELAY_STEP_S; left > 0; left--) {
          state.out.send(progressUpdate(id, `Retrying in ${left} second${left === 1 ? '' : 's'}`));
          await sleep(1000, state.opts.signal);
        }
      }
    }
  }

  /** Makes sure the registry has layer `i` of `image`; returns its descriptor for the manifest. */
  private async pushLayer(state: PushState, image: ResolvedImage, i: number): Promise<PushedLayer> {
    const { out, session, remote } = state;
    const manifestLayer = image.manifest.layers[i] as Descriptor;
    const diffId = image.diffIds[i] as Digest;
    const id = shortId(diffId);
    if (manifestLayer.urls && manifestLayer.urls.length > 0) {
      out.send(progressUpdate(id, 'Skipped foreign layer'));
      return { descriptor: manifestLayer, own: true };
    }
    const known = remote.get(diffId);
    if (known) {
      out.send(progressUpdate(id, 'Layer already exists'));
      return known;
    }
    const blob = await this.layerBlob(image, i);
    let pushed: PushedLayer;
    if (blob) {
      await state.w.protectBlob(blob.digest);
      pushed = { descriptor: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size }, own: blob.own };
      await this.sendBlob(state, id, blob);
    } else {
      pushed = { descriptor: await this.compressAndSend(state, image, i), own: false };
    }
    remote.set(diffId, pushed);
    return pushed;
  }

  /** The blob a layer is sent as: the manifest's own when compressed, else a gzip made by an earlier push; undefined when none exists yet. */
  private async layerBlob(image: ResolvedImage, i: number): Promise<LayerBlob | undefined> {
    const { content } = this.deps.stores;
    const layer = image.manifest.layers[i] as Descriptor;
    if (isCompressedLayer(layer.mediaType)) {
      if (!(await content.has(layer.digest))) throw notFound(`blob ${layer.digest} of layer ${i + 1} of image ${image.id} not found`);
      return { digest: layer.digest, size: layer.size, mediaType: layer.mediaType, own: true };
    }
    const kept = await keptCompressed(content, image.manifest.config.digest, image.diffIds[i] as Digest);
    return kept ? { ...kept, mediaType: MediaTypes.dockerLayerGzip, own: false } : undefined;
  }

  /** HEAD, then mounts from the repositories the blob is known in, then an upload. */
  private async sendBlob(state: PushState, id: string, blob: LayerBlob): Promise<void> {
    const { out, session, opts } = state;
    const { content, logger } = this.deps.stores;
    if (await session.hasBlob(blob.digest)) {
      out.send(progressUpdate(id, 'Layer already exists'));
      await this.recordSource(state, blob.digest);
      return;
    }
    const labels = await content.info(blob.digest).then((i) => i.labels, () => undefined);
    let location: string | undefined;
    for (const from of sourceRepositories(labels, session.registry).filter((r) => r !== session.repository).slice(0, MOUNT_ATTEMPTS)) {
      try {
        const result = await mountBlob(session, blob.digest, from);
        if (result.mounted) {
          if (location) await cancelUpload(session, location);
          out.send(progressUpdate(id, `Mounted from ${from}`));
          await this.recordSource(state, blob.digest);
          return;
        }
        if (location) await cancelUpload(session, location);
        location = result.location;
      } catch (err) {
        if (opts.signal.aborted) throw err;
        // As dockerd: a failed mount is not fatal, the blob is uploaded instead.
        logger.info('cross-repository mount failed', { digest: blob.digest, from, error: messageOf(err) });
      }
    }
    await uploadBlob(
      session,
      { digest: blob.digest, size: blob.size, open: () => content.createReadStream(blob.digest) },
      { location, chunkSize: opts.chunkSize, onProgress: pushingProgress(out, id, blob.size) },
    );
    out.send(progressUpdate(id, 'Pushed'));
    await this.recordSource(state, blob.digest);
  }

  /**
   * A layer stored uncompressed: its tar (the blob, or made again from the unpacked layer) is
   * gzipped once, streamed to the registry and into the content store at the same time, its
   * diff ID checked on the way; the gzip blob is kept for the next push.
   */
  private async compressAndSend(state: PushState, image: ResolvedImage, i: number): Promise<Descriptor> {
    const { out, session, w } = state;
    const { content, layers } = this.deps.stores;
    const diffId = image.diffIds[i] as Digest;
    const id = shortId(diffId);
    const total = (image.manifest.layers[i] as Descriptor).size;
    let tar: Readable;
    if (await content.has(diffId)) {
      await w.protectBlob(diffId);
      tar = content.createReadStream(diffId);
    } else {
      const chain = chainIds(image.diffIds.slice(0, i + 1)).pop() as Digest;
      await w.protectLayer(chain);
      if (!(await layers.get(chain))) throw notFound(`layer ${i + 1} of image ${image.id} (${diffId}) has neither a blob nor an unpacked layer`);
      tar = await layers.layerTar(chain);
    }
    const uncompressed = new Digester();
    const progress = pushingProgress(out, id, total);
    const writer = await w.content.writer();
    let committed = false;
    // Level 6, as dockerd (Go's gzip.DefaultCompression), where it gains anything: what does
    // not compress is stored (adaptive-gzip.ts); 128 KiB out per call: a 64 KiB read is
    // compressed in one thread-pool call instead of four with zlib's default 16 KiB.
    const gzip = createAdaptiveGzip({ level: 6, chunkSize: GZIP_CHUNK_BYTES }).streams;
    const keep = keepingTo(writer);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        uncompressed.update(chunk);
        progress(uncompressed.size);
        done(null, chunk);
      },
    });
    try {
      const sending = uploadStream(session, keep);
      // Either side failing stops the other: no stream is left waiting on a reader that went.
      const compressing = pipeline(tar, counter, ...gzip, keep);
      await Promise.all([compressing, sending]).catch((err: unknown) => {
        for (const s of [tar, counter, ...gzip, keep]) s.destroy();
        throw err;
      });
      const sent = await sending;
      if (uncompressed.digest() !== diffId) {
        throw internal(`layer ${diffId} of image ${image.id} made a tar of another content (${uncompressed.digest()}): not pushed as it`);
      }
      const labels: Record<string, string> = { [LABEL_UNCOMPRESSED]: diffId };
      await writer.commit({ digest: sent.digest, size: sent.size, labels });
      committed = true;
      await keepCompressed(content, image.manifest.config.digest, diffId, sent.digest);
      out.send(progressUpdate(id, 'Pushed'));
      await this.recordSource(state, sent.digest);
      return { mediaType: MediaTypes.dockerLayerGzip, digest: sent.digest, size: sent.size };
    } finally {
      if (!committed) await writer.abort().catch(() => undefined);
    }
  }

  /** Adds the repository pushed to to the blob's distribution source label. */
  private async recordSource(state: PushState, digest: Digest): Promise<void> {
    const { content, logger } = this.deps.stores;
    const { session } = state;
    try {
      const labels = (await content.info(digest)).labels;
      const value = withSourceRepository(labels, session.registry, session.repository);
      if (value === undefined) return;
      const key = sourceLabelKey(session.registry);
      await content.update(digest, { [key]: value }, [`labels.${key}`]);
    } catch (err) {
      // Only a later mount depends on it.
      if (errorKind(err) !== 'NotFound') logger.warn('cannot label a pushed blob with its repository', { digest, error: messageOf(err) });
    }
  }
}

interface PushState {
  session: PushSession;
  ref: Reference;
  w: LeasedWrite;
  out: MessageChannel<JsonStreamMessage>;
  opts: PushOptions;
  /** Layers the registry has by now (by diff ID), so a later tag only says so. */
  remote: Map<Digest, PushedLayer>;
}

/**
 * Whether a failed transfer is worth another attempt, by dockerd's rule: a transport failure
 * (no answer) or a registry error code other than auth, denial, rate limit, unsupported or
 * unknown name; not an unexpected answer without codes, and not a local failure.
 */
function mayRetry(err: unknown): boolean {
  if (!(err instanceof RegistryError)) return false;
  if (err.status === undefined) return true;
  if (err.entries.length === 0) return false;
  return !err.entries.some((e) => FINAL_CODES.has(e.code));
}

/** Waits `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The reference pushed: the name, with the API's `tag` when given. Errors are InvalidArgument, in docker's words. */
export function pushTarget(name: string, tag: string | undefined): Reference {
  const ref = parseNormalizedNamed(name);
  if (tag !== undefined && tag !== '') {
    if (!isValidTag(tag)) throw invalidArgument(`invalid tag format`);
    return { domain: ref.domain, path: ref.path, tag };
  }
  if (ref.digest !== undefined) throw invalidArgument('cannot push a digest reference');
  return ref;
}

function isCompressedLayer(mediaType: string): boolean {
  return /gzip|zstd/.test(mediaType);
}

/** stringid.TruncateID of a diff ID: push shows layers by it. */
function shortId(digest: Digest): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + 12);
}

function pushingProgress(out: MessageChannel<JsonStreamMessage>, id: string, total: number): (sent: number) => void {
  let lastBytes = 0;
  let lastTime = 0;
  return (sent) => {
    const now = Date.now();
    if (sent === total || (sent - lastBytes > PROGRESS_BYTES && now - lastTime >= PROGRESS_INTERVAL_MS)) {
      lastBytes = sent;
      lastTime = now;
      out.send(progressBytes(id, 'Pushing', sent, total));
    }
  };
}

/**
 * Passes the compressed bytes on to the upload at once and keeps them in the content store's
 * writer behind it (batched writes, util/batching-sink.ts): the upload never waits on the
 * disk, only a writer more than a batch behind holds the stream back, and the stream ends
 * only once every byte is written.
 */
function keepingTo(writer: ContentWriter): Transform {
  const sink = batchingSink((chunks) => writer.writev(chunks));
  let failure: Error | undefined;
  const keep = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (failure) return done(failure);
      this.push(chunk);
      if (sink.write(chunk)) done();
      else sink.once('drain', () => done());
    },
    flush(done) {
      sink.end(() => done(failure));
    },
    destroy(err, done) {
      sink.destroy();
      done(err);
    },
  });
  sink.on('error', (err: Error) => {
    failure = err;
    keep.destroy(err);
  });
  return keep;
}

/** A counting semaphore for the concurrent uploads. */
class Slots {
  private readonly waiting: Array<() => void> = [];
  constructor(private free: number) {}
  tryTake(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }
  take(): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
