import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo, ContentStore, ContentWriter } from '../types';
import { Digest, Digester, hexOf, isDigest } from '../../util/digest';
import { fsyncDir } from '../../util/atomic-fs';
import { internal, invalidArgument, isENOENT, notFound } from '../../errors';

/**
 * Content store on the local file system, under `<root>/content`:
 *   blobs/sha256/<hex>  committed, immutable blobs
 *   ingest/<random>     writes in flight (removed by init() after a crash)
 * A blob appears under blobs/ only by rename after its digest was verified and its data fsynced.
 */
export class LocalContentStore implements ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(root: string) {
    this.blobsDir = path.join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'content', 'ingest');
  }

  /** Creates the directories and drops writes a crash left half done. */
  async init(): Promise<void> {
    await fs.mkdir(this.blobsDir, { recursive: true });
    await fs.rm(this.ingestDir, { recursive: true, force: true });
    await fs.mkdir(this.ingestDir, { recursive: true });
  }

  blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw invalidArgument(`invalid digest: ${JSON.stringify(digest)}`);
    return path.join(this.blobsDir, hexOf(digest));
  }

  async info(digest: Digest): Promise<BlobInfo> {
    try {
      const st = await fs.stat(this.blobPath(digest));
      return { digest, size: st.size, createdAt: Math.floor(st.mtimeMs) };
    } catch (err) {
      if (isENOENT(err)) throw notFound(`blob ${digest} not found`, err);
      throw err;
    }
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

  createReadStream(digest: Digest, options: { verify?: boolean } = {}): Readable {
    const out = new PassThrough();
    const file = createReadStream(this.blobPath(digest));
    file.on('error', (err) => {
      out.destroy(isENOENT(err) ? notFound(`blob ${digest} not found`, err) : err);
    });
    if (!options.verify) return file.pipe(out);
    file.pipe(new VerifyingTransform(digest)).on('error', (err) => out.destroy(err)).pipe(out);
    return out;
  }

  async writer(): Promise<ContentWriter> {
    const tmp = path.join(this.ingestDir, randomBytes(12).toString('hex'));
    const handle = await fs.open(tmp, 'wx', 0o600); // blobs are private: layers may hold secrets
    const digester = new Digester();
    let done = false;
    const finish = async () => {
      done = true;
      await handle.close().catch(() => undefined);
    };
    return {
      write: async (chunk: Uint8Array) => {
        if (done) throw internal('write after commit/abort');
        digester.update(chunk);
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
      },
      commit: async (expected = {}) => {
        if (done) throw internal('commit after commit/abort');
        const digest = digester.digest();
        const size = digester.size;
        try {
          if (expected.size !== undefined && expected.size !== size) {
            throw invalidArgument(`unexpected commit size ${size}, expected ${expected.size}`);
          }
          if (expected.digest !== undefined && expected.digest !== digest) {
            throw invalidArgument(`unexpected commit digest ${digest}, expected ${expected.digest}`);
          }
          await handle.sync();
          await finish();
          const target = this.blobPath(digest);
          if (await this.has(digest)) {
            await fs.rm(tmp, { force: true });
          } else {
            await fs.rename(tmp, target);
            await fsyncDir(this.blobsDir);
          }
          const st = await fs.stat(target);
          return { digest, size, createdAt: Math.floor(st.mtimeMs) };
        } catch (err) {
          await finish();
          await fs.rm(tmp, { force: true });
          throw err;
        }
      },
      abort: async () => {
        await finish();
        await fs.rm(tmp, { force: true });
      },
    };
  }

  async ingest(source: Readable | Uint8Array, expected?: { digest?: Digest; size?: number }): Promise<BlobInfo> {
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

  async list(): Promise<BlobInfo[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.blobsDir);
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
    const result: BlobInfo[] = [];
    for (const name of names) {
      const digest = `sha256:${name}` as Digest;
      if (!isDigest(digest)) continue;
      try {
        result.push(await this.info(digest));
      } catch {
        // deleted concurrently
      }
    }
    return result;
  }

  async delete(digest: Digest): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
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
