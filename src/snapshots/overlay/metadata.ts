import * as path from 'node:path';
import { readFileSync, unlinkSync } from 'node:fs';
import type { SnapshotKind, SnapshotUsage } from '../types';
import { readJsonIfExists, writeJsonAtomic } from '../../util/atomic-fs';
import { failedPrecondition, invalidArgument } from '../../errors';

/** One snapshot as recorded: its directory is `<root>/<id>`, whatever its name becomes. */
export interface SnapshotRecord {
  id: string;
  kind: SnapshotKind;
  parent: string | null;
  labels: Record<string, string>;
  created: number;
  updated: number;
  /** Measured once at commit (committed snapshots never change). */
  usage?: SnapshotUsage;
}

interface MetadataFile {
  schemaVersion: number;
  snapshots: Record<string, SnapshotRecord>;
}

export const METADATA_FILE = 'metadata.json';
/** A volatile snapshot's record, in its own directory (see SnapshotMetadata). */
export const VOLATILE_FILE = 'volatile.json';
const SCHEMA_VERSION = 1;

/**
 * All snapshot records in one file, replaced atomically (temp file, fsync, rename) on every
 * change: that rename is the instant a prepare, commit or remove happens, so a kill -9
 * leaves the old set of records or the new one. Directories are made before and deleted
 * after that instant; `init()` of the snapshotter deletes any directory no record names.
 * Changes are applied to a copy and swapped in only once written.
 *
 * A volatile snapshot (prepared with `durable: false`: a --rm container's root, which the
 * daemon removes after a machine crash anyway) is not in that file: its record is written,
 * without fsync, to `<dir>/volatile.json` in its own directory, so a run --rm neither rewrites
 * nor fsyncs the file of every snapshot twice. A daemon restart (kill -9 included) finds the
 * record there (the page cache outlives the process); a machine crash may lose it or leave it
 * torn, and `init()` then deletes the directory as one no record names.
 */
export class SnapshotMetadata {
  private records = new Map<string, SnapshotRecord>();
  private readonly volatile = new Map<string, SnapshotRecord>();

  constructor(private readonly file: string) {}

  async load(): Promise<void> {
    const data = await readJsonIfExists<MetadataFile>(this.file);
    if (!data) {
      this.records = new Map();
      return;
    }
    if (data.schemaVersion !== SCHEMA_VERSION) {
      throw failedPrecondition(`snapshot metadata ${this.file} has schema version ${String(data.schemaVersion)}, which this berth does not know (it knows ${SCHEMA_VERSION})`);
    }
    if (typeof data.snapshots !== 'object' || data.snapshots === null) throw invalidArgument(`snapshot metadata ${this.file} is malformed`);
    this.records = new Map(Object.entries(data.snapshots));
  }

  get(name: string): SnapshotRecord | undefined {
    const record = this.records.get(name) ?? this.volatile.get(name);
    return record && { ...record, labels: { ...record.labels } };
  }

  entries(): Array<[string, SnapshotRecord]> {
    return [...this.records, ...this.volatile].map(([name, r]) => [name, { ...r, labels: { ...r.labels } }]);
  }

  ids(): Set<string> {
    return new Set([...this.records.values(), ...this.volatile.values()].map((r) => r.id));
  }

  /** Names of the snapshots whose parent is `name`. */
  children(name: string): string[] {
    const names: string[] = [];
    for (const [child, record] of [...this.records, ...this.volatile]) if (record.parent === name) names.push(child);
    return names;
  }

  /**
   * Records a volatile snapshot in `dir` (its directory, made already): written whole
   * (writeJsonAtomic, not fsynced), so a kill -9 leaves no torn record.
   */
  async putVolatile(name: string, record: SnapshotRecord, dir: string): Promise<void> {
    if (this.records.has(name) || this.volatile.has(name)) throw invalidArgument(`snapshot ${name} is recorded already`);
    await writeJsonAtomic(path.join(dir, VOLATILE_FILE), { name, record }, 0o600, { durable: false });
    this.volatile.set(name, record);
  }

  /** Forgets a volatile record (its file goes with its directory); false when `name` is not one. */
  deleteVolatile(name: string): boolean {
    return this.volatile.delete(name);
  }

  /**
   * Takes up the volatile record in `dir`, a directory no metadata.json record names; false
   * when it has none or a torn one (a machine crash): the directory is then left over, to delete.
   */
  loadVolatile(dir: string): boolean {
    let text: string;
    try {
      text = readFileSync(path.join(dir, VOLATILE_FILE), 'utf8');
    } catch {
      return false;
    }
    try {
      const { name, record } = JSON.parse(text) as { name: unknown; record: SnapshotRecord };
      if (typeof name !== 'string' || !record || record.id !== path.basename(dir) || record.kind !== 'active' || this.records.has(name) || this.volatile.has(name)) return false;
      this.volatile.set(name, record);
      return true;
    } catch {
      return false;
    }
  }

  /** A volatile record made durable (a commit of a volatile snapshot goes to metadata.json): its file is deleted. Nothing for another. */
  dropVolatileFile(name: string, dir: string): void {
    if (!this.deleteVolatile(name)) return;
    try {
      unlinkSync(path.join(dir, VOLATILE_FILE));
    } catch {
      // gone already
    }
  }

  /**
   * Applies `change` to a copy of the records, writes it durably, then makes it current.
   * `durable: false`: the file's contents are fsynced, its rename is not, so a machine crash
   * may bring back the records as they were before (never a torn file).
   */
  async update(change: (records: Map<string, SnapshotRecord>) => void, options: { durable?: boolean } = {}): Promise<void> {
    const next = new Map(this.records);
    change(next);
    const file: MetadataFile = { schemaVersion: SCHEMA_VERSION, snapshots: Object.fromEntries(next) };
    await writeJsonAtomic(this.file, file, 0o600, { durable: options.durable === false ? 'contents' : true });
    this.records = next;
  }

  static fileIn(root: string): string {
    return path.join(root, METADATA_FILE);
  }
}
