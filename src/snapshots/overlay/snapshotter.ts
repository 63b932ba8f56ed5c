import { existsSync, promises as fs, mkdirSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommitSnapshotOptions, Mount, SnapshotInfo, SnapshotKind, SnapshotOptions, Snapshotter, SnapshotUsage } from '../types';
import { Mutex } from '../../util/mutex';
import { fsyncDir } from '../../util/atomic-fs';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../../errors';
import { METADATA_FILE, SnapshotMetadata, SnapshotRecord } from './metadata';
import { treeUsage } from './usage';
import { pathExists } from '../../util/path-exists';
import { removeTree } from '../../util/remove-tree';

/**
 * Snapshots on overlayfs (containerd's overlay snapshotter, with a JSON metadata file
 * instead of bolt):
 *   <root>/metadata.json      every record (see metadata.ts), replaced atomically
 *   <root>/<id>/fs/           the snapshot's own files: an active snapshot's upper dir, a
 *                             committed snapshot's layer (whiteouts in overlay form)
 *   <root>/<id>/work/         overlay's work dir (active snapshots only)
 *   <root>/.rm-<id>/          a removed snapshot's files, deleted in the background
 * Ids are 12 random base32 characters, so a lower dir costs `<root>/<id>/fs:` in overlay's
 * one-page mount data: about 40 bytes under /var/lib/berth/snapshots, so some 100 layers fit
 * (the short ids are themselves the short links today's layer store kept in l/).
 * A commit changes only the record (the files stay in <root>/<id>), never copies data.
 */
const ID_LENGTH = 12;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const REMOVED_PREFIX = '.rm-';
const MAX_KEY_LENGTH = 512;

export class OverlaySnapshotter implements Snapshotter {
  private readonly metadata: SnapshotMetadata;
  /** Serializes metadata changes; data (extracting, copying) happens outside it. */
  private readonly lock = new Mutex();

  constructor(readonly root: string) {
    this.metadata = new SnapshotMetadata(SnapshotMetadata.fileIn(root));
  }

  /**
   * Loads the records and removes what a crash left: directories no record names (a
   * prepare that did not reach its metadata write, a removal that did), temp files of the
   * metadata write. Does not touch mounts.
   */
  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await this.metadata.load();
    const known = this.metadata.ids();
    for (const name of await fs.readdir(this.root)) {
      if (name === METADATA_FILE || known.has(name)) continue;
      const dir = path.join(this.root, name);
      if (!name.startsWith('.') && this.metadata.loadVolatile(dir)) continue;
      await removeTree(dir);
    }
    for (const [name, record] of this.metadata.entries()) {
      if (!(await pathExists(this.fsDir(record.id)))) throw failedPrecondition(`snapshot ${name}: its directory ${this.fsDir(record.id)} is missing`);
    }
  }

  prepare(key: string, parent?: string | null, options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.create('active', key, parent ?? null, options);
  }

  view(key: string, parent?: string | null, options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.create('view', key, parent ?? null, options);
  }

  async mounts(key: string): Promise<Mount[]> {
    checkKey(key);
    const record = this.mustGet(key);
    if (record.kind === 'committed') throw failedPrecondition(`snapshot ${key} is committed: prepare or view a snapshot on it to mount it`);
    return this.mountsOf(record);
  }

  async commit(name: string, key: string, options: CommitSnapshotOptions = {}): Promise<SnapshotInfo> {
    checkKey(name);
    checkKey(key);
    if (options.parent !== undefined) checkKey(options.parent);
    const before = this.mustGet(key);
    if (before.kind !== 'active') throw failedPrecondition(`snapshot ${key} is a ${before.kind} snapshot: only an active one can be committed`);
    // Measured before taking the lock: an active snapshot being committed is not written to.
    const usage = await treeUsage(this.fsDir(before.id));
    const committed = await this.lock.run(async () => {
      const record = this.mustGet(key);
      if (record.id !== before.id || record.kind !== 'active') throw failedPrecondition(`snapshot ${key} changed while being committed`);
      if (this.metadata.get(name)) throw alreadyExists(`snapshot ${name} already exists`);
      let parent = record.parent;
      if (options.parent !== undefined) {
        if (record.parent !== null) throw failedPrecondition(`snapshot ${key} has a parent already: only a base snapshot can be committed onto one`);
        const p = this.metadata.get(options.parent);
        if (!p) throw notFound(`parent snapshot ${options.parent} does not exist`);
        if (p.kind !== 'committed') throw failedPrecondition(`parent snapshot ${options.parent} is not committed`);
        parent = options.parent;
      }
      const now = Date.now();
      const next: SnapshotRecord = { ...record, kind: 'committed', parent, labels: { ...options.labels }, updated: now, usage };
      await this.metadata.update((records) => {
        records.delete(key);
        records.set(name, next);
      });
      // Committed, it is durable: metadata.json names its directory from now on (a volatile record's file goes).
      this.metadata.dropVolatileFile(key, path.join(this.root, record.id));
      return next;
    });
    await removeTree(this.workDir(committed.id));
    return infoOf(name, committed);
  }

  /** `durable: false`: a machine crash may bring the record back (its files go anyway; see SnapshotOptions). */
  async remove(key: string, options: { durable?: boolean } = {}): Promise<void> {
    checkKey(key);
    const id = await this.lock.run(async () => {
      const record = this.mustGet(key);
      const children = this.metadata.children(key);
      if (children.length > 0) throw failedPrecondition(`cannot remove snapshot ${key}: ${children.join(', ')} ${children.length === 1 ? 'is' : 'are'} based on it`);
      // The record goes first: a crash right after leaves a directory no record names,
      // which init() deletes (a volatile record goes with its directory, renamed below).
      if (!this.metadata.deleteVolatile(key)) await this.metadata.update((records) => records.delete(key), { durable: options.durable });
      return record.id;
    });
    const doomed = path.join(this.root, `${REMOVED_PREFIX}${id}`);
    renameSync(path.join(this.root, id), doomed);
    // The record is gone, so the removal is final; deleting the files need not hold the caller up.
    void removeTree(doomed).catch(() => undefined);
  }

  async stat(key: string): Promise<SnapshotInfo> {
    checkKey(key);
    return infoOf(key, this.mustGet(key));
  }

  async usage(key: string): Promise<SnapshotUsage> {
    checkKey(key);
    const record = this.mustGet(key);
    if (record.usage) return { ...record.usage };
    return treeUsage(this.fsDir(record.id));
  }

  async walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void> {
    for (const [name, record] of this.metadata.entries()) await fn(infoOf(name, record));
  }

  // ---- overlay-specific: host paths, for the differ, `docker diff`, inspect ----------

  /**
   * The snapshot's own directory: an active snapshot's upper dir (its changes), a committed
   * snapshot's layer. Read it only while nothing writes to it.
   */
  async upperDir(key: string): Promise<string> {
    checkKey(key);
    return this.fsDir(this.mustGet(key).id);
  }

  /** The layers a snapshot is mounted over, topmost first (its parent chain). */
  async lowerDirs(key: string): Promise<string[]> {
    checkKey(key);
    return this.parentDirs(this.mustGet(key).parent);
  }

  /** The work dir of an active snapshot (inspect's GraphDriver data). */
  async workDirOf(key: string): Promise<string> {
    checkKey(key);
    return this.workDir(this.mustGet(key).id);
  }

  // ---- internals ----------------------------------------------------------------------

  private async create(kind: SnapshotKind, key: string, parent: string | null, options: SnapshotOptions): Promise<Mount[]> {
    checkKey(key);
    if (parent !== null) checkKey(parent);
    const record = await this.lock.run(async () => {
      if (this.metadata.get(key)) throw alreadyExists(`snapshot ${key} already exists`);
      if (parent !== null) {
        const p = this.metadata.get(parent);
        if (!p) throw notFound(`parent snapshot ${parent} does not exist`);
        if (p.kind !== 'committed') throw failedPrecondition(`parent snapshot ${parent} is not committed`);
      }
      const id = this.newId();
      const dir = path.join(this.root, id);
      // Made before the record: until the metadata write, init() sees an unnamed dir and removes
      // it. Synchronous: microseconds each, where a thread-pool round trip costs ~0.3 ms.
      mkdirSync(path.join(dir, 'fs'), { recursive: true, mode: 0o755 });
      if (kind === 'active') mkdirSync(path.join(dir, 'work'), { mode: 0o700 });
      const now = Date.now();
      const next: SnapshotRecord = { id, kind, parent, labels: { ...options.labels }, created: now, updated: now };
      try {
        // A --rm root's record stays out of metadata.json (see SnapshotMetadata: volatile).
        if (kind === 'active' && options.durable === false) {
          await this.metadata.putVolatile(key, next, dir);
          return next;
        }
        // Its directory entry on disk before a record that names it (init() refuses a record without one).
        if (options.durable !== false) await fsyncDir(this.root);
        await this.metadata.update((records) => records.set(key, next), { durable: options.durable });
      } catch (err) {
        await removeTree(dir);
        throw err;
      }
      return next;
    });
    return this.mountsOf(record);
  }

  private mountsOf(record: SnapshotRecord): Mount[] {
    const own = this.fsDir(record.id);
    const lowers = this.parentDirs(record.parent);
    if (record.kind === 'active') {
      if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['rbind', 'rw'] }];
      return [{ type: 'overlay', source: 'overlay', options: ['index=off', `workdir=${this.workDir(record.id)}`, `upperdir=${own}`, `lowerdir=${lowers.join(':')}`] }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['rbind', 'ro'] }];
    if (lowers.length === 1) return [{ type: 'bind', source: lowers[0], options: ['rbind', 'ro'] }];
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lowers.join(':')}`] }];
  }

  private parentDirs(parent: string | null): string[] {
    const dirs: string[] = [];
    for (let current = parent; current !== null; ) {
      const record = this.metadata.get(current);
      if (!record) throw notFound(`snapshot ${current} does not exist`);
      dirs.push(this.fsDir(record.id));
      current = record.parent;
    }
    return dirs;
  }

  private mustGet(key: string): SnapshotRecord {
    const record = this.metadata.get(key);
    if (!record) throw notFound(`snapshot ${key} does not exist`);
    return record;
  }

  private newId(): string {
    const taken = this.metadata.ids();
    for (;;) {
      const id = randomId();
      if (!taken.has(id) && !existsSync(path.join(this.root, id))) return id;
    }
  }

  private fsDir(id: string): string {
    return path.join(this.root, id, 'fs');
  }

  private workDir(id: string): string {
    return path.join(this.root, id, 'work');
  }
}

function infoOf(name: string, record: SnapshotRecord): SnapshotInfo {
  return { name, parent: record.parent, kind: record.kind, labels: { ...record.labels }, created: record.created, updated: record.updated };
}

/** Keys are only metadata (directories are named by id), but they end up in logs and errors. */
function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || /[\0\n]/.test(key)) {
    throw invalidArgument(`invalid snapshot key ${JSON.stringify(key)}`);
  }
}

function randomId(): string {
  let id = '';
  for (const byte of randomBytes(ID_LENGTH)) id += BASE32[byte & 31];
  return id;
}
