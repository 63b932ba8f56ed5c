import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { IngestStatus, WriterOptions } from '../types';
import type { Digest } from '../../util/digest';
import { isDigest } from '../../util/digest';
import { invalidArgument, isENOENT, notFound, unavailable } from '../../errors';
import { readJsonIfExists, removeStaleTempFiles, writeJsonAtomic } from '../../util/atomic-fs';
import { newIngestHash, type IngestHash } from './ingest-hash';

/** What `meta.json` of a named ingest holds. */
interface IngestMeta {
  ref: string;
  startedAt: number;
  total?: number;
  expected?: Digest;
}

/** An ingest opened for writing: its directory, data file and digest state so far. */
export interface OpenIngest {
  dir: string;
  dataPath: string;
  handle: fs.FileHandle;
  hash: IngestHash;
  offset: number;
  ref?: string;
  meta: IngestMeta;
}

const ANONYMOUS_PREFIX = 'anon-';

function dirName(ref: string): string {
  return createHash('sha256').update(ref).digest('hex');
}

/**
 * The ingest area, `<root>/content/ingest`: one directory per write in flight, holding
 * `data` and, for a named ingest, `meta.json` (ref, start time, announced size and digest).
 * A named ingest survives restarts; anonymous ones (`anon-*`) are dropped by init().
 * Refs are held by one writer at a time within the process.
 */
export class IngestArea {
  private readonly held = new Set<string>();
  /** Digest state of closed named ingests, so resuming in the same process does not re-read. */
  private readonly closedState = new Map<string, { hash: IngestHash; offset: number }>();

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(this.dir);
    for (const name of await fs.readdir(this.dir)) {
      const dir = path.join(this.dir, name);
      const meta = name.startsWith(ANONYMOUS_PREFIX) ? undefined : await this.readMeta(dir).catch(() => undefined);
      // Anonymous writes, and a named one a crash left without its meta, cannot be resumed.
      if (!meta || dirName(meta.ref) !== name) await fs.rm(dir, { recursive: true, force: true });
    }
  }

  private async readMeta(dir: string): Promise<IngestMeta | undefined> {
    const meta = await readJsonIfExists<IngestMeta>(path.join(dir, 'meta.json'));
    if (!meta || typeof meta.ref !== 'string' || typeof meta.startedAt !== 'number') return undefined;
    return meta;
  }

  /** Opens a new ingest, or resumes the named one. */
  async open(options: WriterOptions): Promise<OpenIngest> {
    if (options.total !== undefined && (!Number.isSafeInteger(options.total) || options.total < 0)) {
      throw invalidArgument(`invalid ingest size ${options.total}`);
    }
    if (options.expected !== undefined && !isDigest(options.expected)) throw invalidArgument(`invalid digest: ${JSON.stringify(options.expected)}`);
    const ref = options.ref;
    if (ref === undefined) {
      const dir = path.join(this.dir, `${ANONYMOUS_PREFIX}${randomBytes(12).toString('hex')}`);
      await fs.mkdir(dir, { mode: 0o700 });
      const dataPath = path.join(dir, 'data');
      const handle = await fs.open(dataPath, 'wx', 0o600); // blobs are private: layers may hold secrets
      return { dir, dataPath, handle, hash: newIngestHash(), offset: 0, meta: { ref: '', startedAt: Date.now(), total: options.total, expected: options.expected } };
    }
    if (ref === '') throw invalidArgument('ingest ref must not be empty');
    if (this.held.has(ref)) throw unavailable(`ref ${ref} locked: unavailable`);
    this.held.add(ref);
    try {
      return await this.openNamed(ref, options);
    } catch (err) {
      this.held.delete(ref);
      throw err;
    }
  }

  private async openNamed(ref: string, options: WriterOptions): Promise<OpenIngest> {
    const dir = path.join(this.dir, dirName(ref));
    const dataPath = path.join(dir, 'data');
    let meta: IngestMeta | undefined;
    if (options.existing) {
      meta = await this.readMeta(dir);
      if (!meta || meta.ref !== ref) throw notFound(`ingest ${ref} not found`);
    } else {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      meta = await this.readMeta(dir);
    }
    if (meta) {
      if (options.total !== undefined && meta.total !== undefined && options.total !== meta.total) {
        throw invalidArgument(`ingest ${ref} was started with size ${meta.total}, not ${options.total}`);
      }
      if (options.expected !== undefined && meta.expected !== undefined && options.expected !== meta.expected) {
        throw invalidArgument(`ingest ${ref} was started for ${meta.expected}, not ${options.expected}`);
      }
      if ((options.total !== undefined && meta.total === undefined) || (options.expected !== undefined && meta.expected === undefined)) {
        meta = { ...meta, total: meta.total ?? options.total, expected: meta.expected ?? options.expected };
        await writeJsonAtomic(path.join(dir, 'meta.json'), meta, 0o600);
      }
    } else {
      meta = { ref, startedAt: Date.now(), total: options.total, expected: options.expected };
      await fs.rm(dataPath, { force: true }); // data without meta: a crash before the start was recorded
      await writeJsonAtomic(path.join(dir, 'meta.json'), meta, 0o600);
    }
    const handle = await fs.open(dataPath, 'a+', 0o600);
    try {
      const offset = (await handle.stat()).size;
      const cached = this.closedState.get(ref);
      this.closedState.delete(ref);
      const hash = cached && cached.offset === offset ? cached.hash : await rehash(dataPath, offset);
      return { dir, dataPath, handle, hash, offset, ref, meta };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** A named writer closed without committing: keep its digest state, release the ref. */
  release(ingest: OpenIngest, keepState: boolean): void {
    if (ingest.ref === undefined) return;
    if (keepState) this.closedState.set(ingest.ref, { hash: ingest.hash, offset: ingest.offset });
    else this.closedState.delete(ingest.ref);
    this.held.delete(ingest.ref);
  }

  async remove(ingest: OpenIngest): Promise<void> {
    // What an ingest holds, removed by name (3 calls where a recursive rm takes ~8: a commit
    // waits on them); anything else there (a crash's temp file) falls back to the rm.
    const files = ingest.ref === undefined ? ['data'] : ['data', 'meta.json'];
    try {
      await Promise.all(files.map((f) => fs.unlink(path.join(ingest.dir, f)).catch((err: unknown) => {
        if (!isENOENT(err)) throw err;
      })));
      await fs.rmdir(ingest.dir);
    } catch (err) {
      if (!isENOENT(err)) await fs.rm(ingest.dir, { recursive: true, force: true });
    }
  }

  async status(ref: string): Promise<IngestStatus> {
    const dir = path.join(this.dir, dirName(ref));
    const meta = await this.readMeta(dir).catch((err: unknown) => {
      if (isENOENT(err)) return undefined;
      throw err;
    });
    if (!meta || meta.ref !== ref) throw notFound(`ingest ${ref} not found`);
    let offset = 0;
    let updatedAt = meta.startedAt;
    try {
      const st = await fs.stat(path.join(dir, 'data'));
      offset = st.size;
      updatedAt = Math.max(meta.startedAt, Math.floor(st.mtimeMs));
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    return { ref, offset, total: meta.total, expected: meta.expected, startedAt: meta.startedAt, updatedAt };
  }

  async list(prefix = ''): Promise<IngestStatus[]> {
    const result: IngestStatus[] = [];
    for (const name of await fs.readdir(this.dir)) {
      if (name.startsWith(ANONYMOUS_PREFIX) || name.startsWith('.')) continue;
      const meta = await this.readMeta(path.join(this.dir, name)).catch(() => undefined);
      if (!meta || !meta.ref.startsWith(prefix)) continue;
      try {
        result.push(await this.status(meta.ref));
      } catch {
        // aborted or committed meanwhile
      }
    }
    return result.sort((a, b) => a.startedAt - b.startedAt || a.ref.localeCompare(b.ref));
  }

  async abort(ref: string): Promise<void> {
    if (this.held.has(ref)) throw unavailable(`ref ${ref} locked: unavailable`);
    // Held while it goes, so a writer opening the ref meanwhile is refused instead of losing its data.
    this.held.add(ref);
    try {
      await this.status(ref);
      this.closedState.delete(ref);
      await fs.rm(path.join(this.dir, dirName(ref)), { recursive: true, force: true });
    } finally {
      this.held.delete(ref);
    }
  }
}

/** Rebuilds the digest state of the first `length` bytes of a partial ingest. */
async function rehash(file: string, length: number): Promise<IngestHash> {
  const hash = newIngestHash();
  if (length === 0) return hash;
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
  return hash;
}
