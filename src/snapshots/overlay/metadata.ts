import * as path from 'node:path';
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
const SCHEMA_VERSION = 1;

/**
 * All snapshot records in one file, replaced atomically (temp file, fsync, rename) on every
 * change: that rename is the instant a prepare, commit or remove happens, so a kill -9
 * leaves the old set of records or the new one. Directories are made before and deleted
 * after that instant; `init()` of the snapshotter deletes any directory no record names.
 * Changes are applied to a copy and swapped in only once written.
 */
export class SnapshotMetadata {
  private records = new Map<string, SnapshotRecord>();

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
    const record = this.records.get(name);
    return record && { ...record, labels: { ...record.labels } };
  }

  entries(): Array<[string, SnapshotRecord]> {
    return [...this.records].map(([name, r]) => [name, { ...r, labels: { ...r.labels } }]);
  }

  ids(): Set<string> {
    return new Set([...this.records.values()].map((r) => r.id));
  }

  /** Names of the snapshots whose parent is `name`. */
  children(name: string): string[] {
    const names: string[] = [];
    for (const [child, record] of this.records) if (record.parent === name) names.push(child);
    return names;
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
