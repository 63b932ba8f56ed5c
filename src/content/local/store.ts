import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo, CommitOptions, ContentStore, ContentWriter, IngestStatus, Labels, ReadRange, WriterOptions } from '../types';
import { Digest, Digester, hexOf, isDigest } from '../../util/digest';
import { fsyncDir } from '../../util/atomic-fs';
import { KeyedMutex } from '../../util/mutex';
import { mapLimit } from '../../util/map-limit';
import { internal, invalidArgument, isENOENT, notFound } from '../../errors';
import { IngestArea } from './ingests';
import { applyLabelUpdate, LabelFiles, validateLabels } from './labels';
import { LocalContentWriter } from './writer';

/** Blob stats in flight at once while listing (libuv runs 4 at a time; more keeps its queue full). */
const LIST_CONCURRENCY = 16;

/**
 * Content store on the local file system, under `<root>/content`:
 *   blobs/sha256/<hex>         committed, immutable blobs
 *   labels/sha256/<hex>.json   a blob's labels and their update time (when it has any)
 *   ingest/<sha256(ref)>/      a named write in flight: data, meta.json (kept across restarts)
 *   ingest/anon-<random>/      an anonymous write in flight (removed by init())
 * A blob appears under blobs/ only by rename after its digest was verified, its data fsynced
 * and its labels written.
 */
export class LocalContentStore implements ContentStore {
  private readonly blobsDir: string;
  private readonly ingests: IngestArea;
  private readonly labelFiles: LabelFiles;
  /** Serializes label read-modify-writes per blob. */
  private readonly labelLock = new KeyedMutex();

  constructor(root: string) {
    this.blobsDir = path.join(root, 'content', 'blobs', 'sha256');
    this.ingests = new IngestArea(path.join(root, 'content', 'ingest'));
    this.labelFiles = new LabelFiles(path.join(root, 'content', 'labels', 'sha256'));
  }

  /** Creates the directories, drops anonymous writes and labels a crash left without a blob. */
  async init(): Promise<void> {
    await fs.mkdir(this.blobsDir, { recursive: true });
    await this.ingests.init();
    await this.labelFiles.init();
    for (const hex of await this.labelFiles.list()) {
      if (!(await this.has(`sha256:${hex}` as Digest).catch(() => true))) await this.labelFiles.remove(hex);
    }
  }

  blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw invalidArgument(`invalid digest: ${JSON.stringify(digest)}`);
    return path.join(this.blobsDir, hexOf(digest));
  }

  async info(digest: Digest): Promise<BlobInfo> {
    let st;
    try {
      st = await fs.stat(this.blobPath(digest));
    } catch (err) {
      if (isENOENT(err)) throw notFound(`blob ${digest} not found`, err);
      throw err;
    }
    const createdAt = Math.floor(st.mtimeMs);
    const record = await this.labelFiles.read(hexOf(digest));
    return { digest, size: st.size, createdAt, updatedAt: record?.updatedAt ?? createdAt, labels: { ...(record?.labels ?? {}) } };
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      await fs.access(this.blobPath(digest));
      return true;
    } catch (err) {
      if (isENOENT(err)) return false;
      throw err;
    }
  }

  async readBlob(digest: Digest): Promise<Buffer> {
    try {
      return await fs.readFile(this.blobPath(digest));
    } catch (err) {
      if (isENOENT(err)) throw notFound(`blob ${digest} not found`, err);
      throw err;
    }
  }

  /** Checks a range against the blob's size; returns [start, length]. */
  private resolveRange(digest: Digest, size: number, range: ReadRange): [number, number] {
    const offset = range.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`invalid read offset ${offset}`);
    if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) throw invalidArgument(`invalid read length ${range.length}`);
    if (offset > size) throw invalidArgument(`read offset ${offset} is past the end of blob ${digest} (${size} bytes)`);
    return [offset, Math.min(range.length ?? size - offset, size - offset)];
  }

  async read(digest: Digest, range: ReadRange): Promise<Buffer> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isENOENT(err)) throw notFound(`blob ${digest} not found`, err);
      throw err;
    }
    try {
      const [offset, length] = this.resolveRange(digest, (await handle.stat()).size, range);
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buffer.subarray(0, done);
    } finally {
      await handle.close();
    }
  }

  createReadStream(digest: Digest, options: { verify?: boolean } & ReadRange = {}): Readable {
    const out = new PassThrough();
    const ranged = options.offset !== undefined || options.length !== undefined;
    if (options.verify && ranged) {
      process.nextTick(() => out.destroy(invalidArgument('a verifying read covers the whole blob: no offset or length')));
      return out;
    }
    const fail = (err: unknown) => out.destroy(isENOENT(err) ? notFound(`blob ${digest} not found`, err) : (err as Error));
    const open = async (): Promise<Readable> => {
      const file = this.blobPath(digest);
      if (!ranged) return createReadStream(file);
      const [start, length] = this.resolveRange(digest, (await fs.stat(file)).size, options);
      // An empty range still needs a stream: end before start reads nothing.
      return length === 0 ? Readable.from([]) : createReadStream(file, { start, end: start + length - 1 });
    };
    open().then((source) => {
      source.on('error', fail);
      if (!options.verify) source.pipe(out);
      else source.pipe(new VerifyingTransform(digest)).on('error', fail).pipe(out);
    }, fail);
    return out;
  }

  async writer(options: WriterOptions = {}): Promise<ContentWriter> {
    const ingest = await this.ingests.open(options);
    return new LocalContentWriter(this.ingests, ingest, { publish: (dataPath, digest, labels) => this.publish(dataPath, digest, labels) });
  }

  /** The end of a commit: labels first, then the rename that makes the blob visible. */
  private async publish(dataPath: string, digest: Digest, labels?: Labels): Promise<BlobInfo> {
    const hex = hexOf(digest);
    const hasLabels = labels !== undefined && Object.keys(labels).length > 0;
    await this.labelLock.run(hex, async () => {
      if (await this.has(digest)) {
        if (hasLabels) {
          const current = await this.labelFiles.read(hex);
          await this.labelFiles.write(hex, { labels: { ...(current?.labels ?? {}), ...labels }, updatedAt: Date.now() });
        }
        return;
      }
      if (hasLabels) await this.labelFiles.write(hex, { labels: { ...labels }, updatedAt: Date.now() });
      else await this.labelFiles.remove(hex); // stale labels of an earlier, deleted blob
      await fs.rename(dataPath, this.blobPath(digest));
      await fsyncDir(this.blobsDir);
    });
    return this.info(digest);
  }

  async ingest(source: Readable | Uint8Array, expected?: CommitOptions): Promise<BlobInfo> {
    const w = await this.writer();
    try {
      if (source instanceof Uint8Array) {
        await w.write(source);
      } else {
        await pipeline(source, async (chunks: AsyncIterable<Buffer>) => {
          for await (const chunk of chunks) await w.write(chunk);
        });
      }
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit(expected);
  }

  status(ref: string): Promise<IngestStatus> {
    return this.ingests.status(ref);
  }

  listIngests(prefix?: string): Promise<IngestStatus[]> {
    return this.ingests.list(prefix);
  }

  abortIngest(ref: string): Promise<void> {
    return this.ingests.abort(ref);
  }

  async list(): Promise<BlobInfo[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.blobsDir);
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
    // One listing of the labels instead of a failed open per blob (most blobs have none).
    const labelled = new Set(await this.labelFiles.list());
    const infos = await mapLimit(names, LIST_CONCURRENCY, async (name): Promise<BlobInfo | undefined> => {
      const digest = `sha256:${name}` as Digest;
      if (!isDigest(digest)) return undefined;
      try {
        if (labelled.has(name)) return await this.info(digest);
        const st = await fs.stat(path.join(this.blobsDir, name));
        const createdAt = Math.floor(st.mtimeMs);
        return { digest, size: st.size, createdAt, updatedAt: createdAt, labels: {} };
      } catch {
        return undefined; // deleted concurrently
      }
    });
    return infos.filter((i): i is BlobInfo => i !== undefined);
  }

  async update(digest: Digest, labels: Labels, fieldpaths?: string[]): Promise<BlobInfo> {
    validateLabels(labels);
    const hex = hexOf(digest);
    await this.labelLock.run(hex, async () => {
      if (!(await this.has(digest))) throw notFound(`blob ${digest} not found`);
      const current = await this.labelFiles.read(hex);
      const next = applyLabelUpdate(current?.labels ?? {}, labels, fieldpaths);
      await this.labelFiles.write(hex, { labels: next, updatedAt: Date.now() });
    });
    return this.info(digest);
  }

  async delete(digest: Digest): Promise<void> {
    const hex = hexOf(digest);
    await this.labelLock.run(hex, async () => {
      // The blob first: labels without a blob are harmless (init() drops them).
      await fs.rm(this.blobPath(digest), { force: true });
      await this.labelFiles.remove(hex);
    });
  }
}

/** Passes bytes through and fails at the end when they do not hash to `expected`. */
class VerifyingTransform extends Transform {
  private readonly digester = new Digester();
  constructor(private readonly expected: Digest) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = this.digester.digest();
    if (actual !== this.expected) {
      cb(internal(`blob ${this.expected} is corrupt: its content has digest ${actual}`));
    } else {
      cb();
    }
  }
}
