import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Layer, LayerSnapshots, LocalSnapshotter, SnapshotInfo } from './types';
import { Digest, Digester, digestOf, isDigest } from '../util/digest';
import { extractInWorker } from './layer-extractor';
import { digestDirectory, packDirectory } from '../archive/tar/pack';
import { errorKind, invalidArgument, isNotFound, notFound } from '../errors';

/** Label on a committed layer snapshot: the sha256 of its uncompressed tar. */
export const DIFF_ID_LABEL = 'berth.io/diff-id';
/** Label on an active snapshot an unpack is filling; one left by a crash is abandoned work. */
export const UNPACK_LABEL = 'berth.io/unpack';
const UNPACK_KEY_PREFIX = 'unpack-';

/**
 * The unpacker and differ on a local snapshotter (`LayerSnapshots`): image layers are
 * committed snapshots named by chain ID (OCI image spec), each unpacked once and shared by
 * every image and container on it. Unpacking is prepare(temp key, parent chain) → extract
 * the tar into the active snapshot's upper dir (whiteouts stored in overlay form; the tar's
 * sha256 is its diff ID) → commit(chain ID); a failed unpack removes its active snapshot.
 * The differ, `layerTar`, packs a committed layer's own directory again, deterministically,
 * for when a blob is needed (save, push).
 */
export class SnapshotUnpacker implements LayerSnapshots {
  constructor(readonly snapshotter: LocalSnapshotter) {}

  /** Removes unpacks a crash interrupted (active snapshots still labelled as being unpacked). */
  async removeAbandoned(): Promise<string[]> {
    const abandoned: string[] = [];
    await this.snapshotter.walk((info) => {
      if (info.kind === 'active' && info.labels[UNPACK_LABEL] !== undefined) abandoned.push(info.name);
    });
    for (const key of abandoned) await this.snapshotter.remove(key);
    return abandoned;
  }

  async apply(parent: Digest | null, tar: Readable, expectedDiffId?: Digest): Promise<Layer> {
    if (parent !== null && !(await this.get(parent))) throw notFound(`layer ${parent} does not exist`);
    if (expectedDiffId) {
      const existing = await this.get(chainIdOf(parent, expectedDiffId));
      if (existing) {
        await drain(tar);
        return existing;
      }
    }
    const key = `${UNPACK_KEY_PREFIX}${randomBytes(8).toString('hex')}`;
    await this.snapshotter.prepare(key, parent, { labels: { [UNPACK_LABEL]: '' } });
    try {
      const diffId = await this.extractInto(await this.snapshotter.upperDir(key), tar, expectedDiffId);
      return await this.commitUnpacked(key, parent, diffId);
    } finally {
      await this.removeKey(key);
    }
  }

  async applyAhead(parent: Promise<Digest | null>, layer: Readable, expectedDiffId: Digest): Promise<Layer> {
    // Settled here whatever happens below, so a parent that fails while this extracts is no unhandled rejection.
    const parentSettled = parent.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    const key = `${UNPACK_KEY_PREFIX}${randomBytes(8).toString('hex')}`;
    // The bytes start flowing to the extractor while the snapshot is prepared.
    const prepared = this.snapshotter.prepare(key, null, { labels: { [UNPACK_LABEL]: '' } }).then(() => this.snapshotter.upperDir(key));
    try {
      const diffId = await this.extractInto(prepared, layer, expectedDiffId, true);
      const settled = await parentSettled;
      if ('error' in settled) throw settled.error;
      const parentChain = settled.value;
      if (parentChain !== null && !(await this.get(parentChain))) throw notFound(`layer ${parentChain} does not exist`);
      return await this.commitUnpacked(key, parentChain, diffId, { onto: parentChain !== null });
    } finally {
      // A prepare still running when the extraction failed is waited for: nothing is left behind.
      await prepared.catch(() => undefined);
      await this.removeKey(key);
    }
  }

  /**
   * Extracts `tar` into `dest` (an active snapshot's upper dir, perhaps still being
   * prepared) on a worker thread (layer-extractor.ts); returns its diff ID, checked against
   * `expectedDiffId`. With `decompress`, `tar` may be a compressed layer blob.
   */
  private async extractInto(dest: string | Promise<string>, tar: Readable, expectedDiffId: Digest | undefined, decompress = false): Promise<Digest> {
    const { diffId } = await extractInWorker(tar, dest, { whiteouts: 'overlay', decompress });
    if (expectedDiffId && diffId !== expectedDiffId) {
      throw invalidArgument(`layer diff ID mismatch: expected ${expectedDiffId}, got ${diffId}`);
    }
    return diffId;
  }

  /** Removes an unpack's active snapshot; gone already (committed) is fine. */
  private async removeKey(key: string): Promise<void> {
    await this.snapshotter.remove(key).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /**
   * Commits an active snapshot whose files were written in place (a container's changes
   * copied in, a build step's RUN or COPY) as a layer on its parent: the diff ID is the
   * sha256 of the snapshot's deterministic tar, streamed and not stored (`layerTar` makes
   * the same bytes again when a blob is needed). Nothing may write to `key` meanwhile.
   */
  async commitActive(key: string): Promise<{ layer: Layer; tarSize: number }> {
    const parent = (await this.snapshotter.stat(key)).parent as Digest | null;
    const { digest, size } = await digestDirectory(await this.snapshotter.upperDir(key), { whiteouts: 'overlay-to-wh' });
    return { layer: await this.commitUnpacked(key, parent, digest), tarSize: size };
  }

  /**
   * Commits an active snapshot filled by the caller (an unpack, a container's changes, a
   * build step) as the layer `chainIdOf(parent, diffId)`. If that layer exists already (the
   * same content committed concurrently), it is kept and `key` is left to the caller.
   */
  async commitUnpacked(key: string, parent: Digest | null, diffId: Digest, opts: { onto?: boolean } = {}): Promise<Layer> {
    const chainId = chainIdOf(parent, diffId);
    const existing = await this.get(chainId);
    if (existing) return existing;
    try {
      await this.snapshotter.commit(chainId, key, { labels: { [DIFF_ID_LABEL]: diffId }, ...(opts.onto && parent !== null ? { parent } : {}) });
    } catch (err) {
      const winner = errorKind(err) === 'AlreadyExists' ? await this.get(chainId) : undefined;
      if (!winner) throw err;
      return winner;
    }
    const layer = await this.get(chainId);
    if (!layer) throw notFound(`layer ${chainId} vanished after its commit`);
    return layer;
  }

  async get(chainId: Digest): Promise<Layer | undefined> {
    if (!isDigest(chainId)) throw invalidArgument(`invalid layer chain ID ${JSON.stringify(chainId)}`);
    let info: SnapshotInfo;
    try {
      info = await this.snapshotter.stat(chainId);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return this.layerOf(info);
  }

  async list(): Promise<Layer[]> {
    const infos: SnapshotInfo[] = [];
    await this.snapshotter.walk((info) => {
      if (info.kind === 'committed' && info.labels[DIFF_ID_LABEL] !== undefined) infos.push(info);
    });
    const layers: Layer[] = [];
    for (const info of infos.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const layer = await this.layerOf(info).catch((err: unknown) => {
        if (isNotFound(err)) return undefined; // removed while listing
        throw err;
      });
      if (layer) layers.push(layer);
    }
    return layers;
  }

  async lowerDirs(chainId: Digest): Promise<string[]> {
    if (!(await this.get(chainId))) throw notFound(`layer ${chainId} does not exist`);
    return [await this.snapshotter.upperDir(chainId), ...(await this.snapshotter.lowerDirs(chainId))];
  }

  /** Idempotent; refused (FailedPrecondition) while another layer or a container is based on it. */
  async remove(chainId: Digest): Promise<void> {
    if (!isDigest(chainId)) throw invalidArgument(`invalid layer chain ID ${JSON.stringify(chainId)}`);
    await this.snapshotter.remove(chainId).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /**
   * The differ: a committed layer as a layer tar (whiteouts in `.wh.` form), byte for byte
   * the same every time (packDirectory is deterministic), so its sha256 is the diff ID
   * recorded when it was committed.
   */
  async layerTar(chainId: Digest): Promise<Readable> {
    const info = await this.snapshotter.stat(chainId);
    if (info.kind !== 'committed') throw invalidArgument(`snapshot ${chainId} is not a committed layer`);
    return packDirectory(await this.snapshotter.upperDir(chainId), { whiteouts: 'overlay-to-wh' });
  }

  private async layerOf(info: SnapshotInfo): Promise<Layer | undefined> {
    const diffId = info.labels[DIFF_ID_LABEL];
    if (info.kind !== 'committed' || diffId === undefined || !isDigest(diffId)) return undefined;
    const { size } = await this.snapshotter.usage(info.name);
    return { chainId: info.name as Digest, diffId, parent: info.parent as Digest | null, size };
  }
}

/** The sha256 and length of a stream. */
export async function digestStream(stream: Readable): Promise<{ digest: Digest; size: number }> {
  const digester = new Digester();
  let size = 0;
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        digester.update(chunk);
        size += chunk.length;
        done();
      },
    }),
  );
  return { digest: digester.digest(), size };
}

export function chainIdOf(parent: Digest | null, diffId: Digest): Digest {
  return parent === null ? diffId : digestOf(`${parent} ${diffId}`);
}

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}
