import type { Readable } from 'node:stream';
import type { Descriptor, ImageConfig, Platform } from '../../../images/models';
import { parseImageConfig } from '../../../images/models';
import { Reference, familiarName, familiarString } from '../../../images/reference';
import { ingestNew } from '../../../content/ingest-new';
import { LABEL_DISTRIBUTION_SOURCE_PREFIX, LABEL_UNCOMPRESSED } from '../../../content/types';
import type { Layer } from '../../../snapshots/types';
import { Digest, chainIds } from '../../../util/digest';
import { invalidArgument, messageOf, notFound } from '../../../errors';
import { RegistryError } from '../../../registry/client/errors';
import type { ImageCreation, LeasedWrite } from '../creation';
import type { ImageStores } from '../resolver';
import type { PullAuth, PullSession, PullSessions, ResolvedPull } from './source';
import { TeeSink, transferBlob } from './blob-transfer';
import { warmLayerExtractor } from '../../../snapshots/layer-extractor';
import { PullProgress, layerProgressId } from './pull-progress';

/** As dockerd's max-concurrent-downloads default. */
const CONCURRENT_DOWNLOADS = 3;

export interface PullOptions {
  platform?: Platform;
  auth?: PullAuth;
  signal: AbortSignal;
  progress: PullProgress;
}

/** What one reference's pull did: the image, and whether the name now points somewhere new. */
export interface PulledImage {
  id: Digest;
  updated: boolean;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a waiter may never come (the pull failed first)
  return { promise, resolve, reject };
}

/**
 * moby's translatePullError: a registry that refuses the repository (401, DENIED,
 * NAME_UNKNOWN) is a 404 "pull access denied" to the client, not a 401, which the docker
 * CLI would answer with a login prompt (a hang with no terminal).
 */
function accessDenied(ref: Reference, err: unknown): Error | undefined {
  if (!(err instanceof RegistryError) || !(err.unauthorized || err.denied || err.hasCode('NAME_UNKNOWN'))) return undefined;
  return notFound(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${err.message}`);
}

/**
 * Pulls an image from a registry into the stores, under a lease: the config first, then
 * every layer not unpacked yet (up to three downloads at a time), each one verified while
 * it streams into a named ingest and, at the same time, decompressed and extracted into a
 * snapshot of its own (committed onto its parent layer once that one is); last, the
 * manifest and the image record with its tag and repo digest, in one metadata update. A
 * failure leaves no image record and no blob or layer of its own (the lease's cleanup);
 * an interrupted download's ingest stays, so the next pull resumes it.
 */
export class ImagePuller {
  /** Downloads in flight by blob digest: a second pull of the same blob waits for the first instead of competing for its ingest. */
  private readonly inFlight = new Map<Digest, Promise<unknown>>();

  constructor(
    private readonly stores: ImageStores,
    private readonly creation: ImageCreation,
    private readonly hosts: PullSessions,
  ) {}

  /**
   * `docker pull`: one tag or digest, or with `allTags` every tag of the repository (the
   * API's fromImage without a tag), then dockerd's closing Status line. Returns the images.
   */
  async pullAll(ref: Reference, allTags: boolean, opts: PullOptions): Promise<Digest[]> {
    const refs = allTags ? (await this.tags(ref, opts)).map((tag): Reference => ({ domain: ref.domain, path: ref.path, tag })) : [ref];
    if (refs.length === 0) throw notFound(`no tags available for ${familiarName(ref)}`);
    const ids: Digest[] = [];
    let updated = false;
    for (const one of refs) {
      const pulled = await this.pull(one, opts);
      ids.push(pulled.id);
      updated ||= pulled.updated;
    }
    const name = allTags ? familiarName(ref) : familiarString(ref);
    opts.progress.message(`Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${name}`);
    return ids;
  }

  /** Pulls one tag or digest reference; messages go to `opts.progress` (all but the final Status line). */
  async pull(ref: Reference, opts: PullOptions): Promise<PulledImage> {
    const session = this.hosts.session(ref, { auth: opts.auth, signal: opts.signal });
    const resolved = await session.resolve(opts.platform).catch((err: unknown) => {
      throw accessDenied(ref, err) ?? err;
    });
    const { progress } = opts;
    progress.message(`Pulling from ${familiarPath(ref)}`, ref.digest ?? ref.tag);
    const pulled = await this.creation.leased('pull', async (w) => {
      const config = await this.storeConfig(ref, resolved, w);
      if (opts.platform) checkPlatform(ref, config, opts.platform);
      const manifest = resolved.manifest.manifest;
      const id = manifest.config.digest;
      if (!this.stores.metadata.get(id)) await this.fetchLayers(ref, session, manifest.layers, config, w, opts);
      const { bytes, descriptor } = resolved.manifest;
      const manifestBlob = await ingestNew(w.content, bytes, { digest: descriptor.digest, size: bytes.length });
      if (manifestBlob.added) w.newBlobs.add(manifestBlob.digest);
      let updated = false;
      await this.creation.register(
        [{ config, layers: manifest.layers, manifest: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: bytes.length } }],
        w,
        (tx, ids) => {
          const named = { domain: ref.domain, path: ref.path };
          const repoDigest = { ...named, digest: resolved.digest };
          const asked = ref.digest !== undefined ? repoDigest : { ...named, tag: ref.tag };
          updated = tx.lookupRef(asked) !== ids[0];
          tx.setRef(repoDigest, ids[0]);
          if (ref.digest === undefined) tx.setRef(asked, ids[0]);
        },
      );
      return { id, updated };
    });
    progress.message(`Digest: ${resolved.digest}`);
    return pulled;
  }

  /** The repository's tags, for `pull -a`. */
  private tags(ref: Reference, opts: { auth?: PullAuth; signal: AbortSignal }): Promise<string[]> {
    return this.hosts.session(ref, opts).listTags();
  }

  /** Stores the config as the registry sent it (verified by the client): its digest is the image ID. */
  private async storeConfig(ref: Reference, resolved: ResolvedPull, w: LeasedWrite): Promise<ImageConfig> {
    const { descriptor, bytes } = resolved.config;
    const blob = await ingestNew(w.content, bytes, { digest: descriptor.digest, size: bytes.length, labels: sourceLabels(ref) });
    if (blob.added) w.newBlobs.add(blob.digest);
    const config = parseImageConfig(bytes);
    const layers = resolved.manifest.manifest.layers;
    if (config.rootfs.diff_ids.length !== layers.length) {
      throw invalidArgument(`invalid image ${familiarString(ref)}: ${layers.length} layers but ${config.rootfs.diff_ids.length} diff IDs in its config`);
    }
    return config;
  }

  /**
   * Downloads and unpacks every layer whose chain is not unpacked yet. Layers below the
   * first missing one exist already (a chain exists only on its parents).
   */
  private async fetchLayers(ref: Reference, session: PullSession, descs: Descriptor[], config: ImageConfig, w: LeasedWrite, opts: PullOptions): Promise<void> {
    const { layers } = this.stores;
    const { progress } = opts;
    const diffIds = config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    // Leased before they are looked at: a removal and collection meanwhile cannot take a layer this image will stand on.
    let firstMissing = 0;
    while (firstMissing < chains.length) {
      await w.protectLayer(chains[firstMissing]);
      if (!(await layers.get(chains[firstMissing]))) break;
      firstMissing++;
    }
    for (let i = 0; i < firstMissing; i++) progress.layer(layerProgressId(descs[i].digest), 'Already exists');
    const todo = descs.map((_, i) => i).filter((i) => i >= firstMissing);
    if (todo.length > 0) warmLayerExtractor();
    for (const i of todo) progress.layer(layerProgressId(descs[i].digest), 'Pulling fs layer');
    for (const i of todo.slice(CONCURRENT_DOWNLOADS)) progress.layer(layerProgressId(descs[i].digest), 'Waiting');

    // One failure stops the other downloads; everything settles before the lease ends.
    const abort = new AbortController();
    const stop = () => abort.abort();
    opts.signal.addEventListener('abort', stop, { once: true });
    const committed = descs.map(() => deferred<Digest>());
    const parentOf = (i: number): Promise<Digest | null> => (i === firstMissing ? Promise.resolve(i === 0 ? null : chains[i - 1]) : committed[i - 1].promise);
    const unpacks: Promise<Layer>[] = [];
    const errors: unknown[] = [];
    const fail = (err: unknown) => {
      errors.push(err);
      abort.abort();
    };
    const queue = [...todo];
    const worker = async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        if (abort.signal.aborted) {
          committed[i].reject(new Error('pull stopped'));
          continue;
        }
        try {
          await w.protectLayer(chains[i]);
          w.newChains.push(chains[i]);
          const { unpack } = await this.fetchLayer(ref, session, descs[i], diffIds[i], parentOf(i), w, { ...opts, signal: abort.signal });
          const id = layerProgressId(descs[i].digest);
          const unpacked = unpack.then(
            (layer) => {
              progress.bytes(id, 'Extracting', descs[i].size, descs[i].size);
              progress.layer(id, 'Pull complete');
              committed[i].resolve(layer.chainId);
              return layer;
            },
            (err: unknown) => {
              committed[i].reject(err);
              fail(err);
              throw err;
            },
          );
          // Awaited below, once every download is over: a layer that fails to unpack while another
          // still downloads must not be an unhandled rejection meanwhile (it would end the daemon).
          unpacked.catch(() => undefined);
          unpacks.push(unpacked);
        } catch (err) {
          committed[i].reject(err);
          fail(err);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(CONCURRENT_DOWNLOADS, todo.length) }, worker));
      await Promise.allSettled(unpacks);
    } finally {
      opts.signal.removeEventListener('abort', stop);
    }
    if (errors.length > 0) throw firstCause(errors);
  }

  /**
   * Downloads one layer (or waits for another pull's download of it) and starts its unpack:
   * from the bytes as they arrive when the download starts at 0, else from the stored blob.
   * Resolves when the download is done, with the unpack's promise (boxed: awaiting it is the caller's choice).
   */
  private async fetchLayer(ref: Reference, session: PullSession, desc: Descriptor, diffId: Digest, parent: Promise<Digest | null>, w: LeasedWrite, opts: PullOptions): Promise<{ unpack: Promise<Layer> }> {
    const { content, layers } = this.stores;
    const { progress } = opts;
    const id = layerProgressId(desc.digest);
    const unpackFrom = (blob: Readable): Promise<Layer> => {
      // Until the extractor listens (after its snapshot is prepared), an error of the stream is kept in `errored`, not thrown.
      blob.on('error', () => undefined);
      // Decompressed on the extractor's worker thread, with the rest of the unpack.
      return layers.applyAhead(parent, blob, diffId).catch((err: unknown) => {
        throw invalidArgument(`failed to register layer ${id}: ${messageOf(err)}`, err);
      });
    };
    const other = this.inFlight.get(desc.digest);
    if (other) await other.catch(() => undefined);
    if (await content.has(desc.digest)) {
      progress.layer(id, 'Download complete');
      return { unpack: unpackFrom(content.createReadStream(desc.digest)) };
    }
    let unpack: Promise<Layer> | undefined;
    const transfer = transferBlob({
      content: w.content,
      open: (offset) => session.openBlob(desc, { offset }),
      desc,
      labels: { ...sourceLabels(ref), [LABEL_UNCOMPRESSED]: diffId },
      tee: () => {
        const sink = new TeeSink();
        unpack = unpackFrom(sink.stream);
        unpack.catch(() => undefined); // awaited by the caller; the transfer may fail first
        return sink;
      },
      onProgress: (received) => progress.bytes(id, 'Downloading', received, desc.size),
      signal: opts.signal,
      registry: session.registry,
    });
    this.inFlight.set(desc.digest, transfer);
    try {
      await transfer;
    } catch (err) {
      // The unpack got the same error through its stream; it is over before the lease ends.
      if (unpack) await unpack.catch(() => undefined);
      throw err;
    } finally {
      if (this.inFlight.get(desc.digest) === transfer) this.inFlight.delete(desc.digest);
    }
    w.newBlobs.add(desc.digest);
    progress.layer(id, 'Verifying Checksum');
    progress.layer(id, 'Download complete');
    return { unpack: unpack ?? unpackFrom(content.createReadStream(desc.digest)) };
  }
}

/** The repository's path on its registry ("library/busybox", "team/app"): dockerd's "Pulling from" line. */
function familiarPath(ref: Reference): string {
  return ref.path;
}

/** containerd's distribution source label, so a push can cross-mount the blob from this repository. */
function sourceLabels(ref: Reference): Record<string, string> {
  return { [`${LABEL_DISTRIBUTION_SOURCE_PREFIX}${ref.domain}`]: ref.path };
}

function checkPlatform(ref: Reference, config: ImageConfig, wanted: Platform): void {
  if (config.os === wanted.os && config.architecture === wanted.architecture && (wanted.variant === undefined || config.variant === undefined || config.variant === wanted.variant)) return;
  const actual = [config.os, config.architecture, config.variant].filter(Boolean).join('/');
  const want = [wanted.os, wanted.architecture, wanted.variant].filter(Boolean).join('/');
  throw invalidArgument(`image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${want}, actual: ${actual}`);
}

/** The error that started the failure, not the "stopped" of the transfers it cancelled. */
function firstCause(errors: unknown[]): unknown {
  return errors[0];
}
