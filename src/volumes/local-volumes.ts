import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { conflict, invalidArgument, isENOENT, notFound } from '../errors';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-fs';
import { directorySize } from '../util/directory-size';
import { removeTree } from '../util/remove-tree';

/**
 * Local named volumes: a directory per volume, <root>/<name>/_data, with its metadata in
 * <root>/<name>/volume.json (written atomically last, so a volume without it is a create
 * that never finished). Created on first use by `-v name:/path`, as in Docker; data stays on
 * the host until the volume is removed.
 */
export interface VolumeRecord {
  Name: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
}

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class LocalVolumes {
  constructor(readonly root: string) {}

  /** Creates the root and finishes removals a crash interrupted. */
  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(this.root)) {
      if (name.startsWith('.rm-')) await removeTree(path.join(this.root, name));
    }
  }

  dataPath(name: string): string {
    if (!NAME_PATTERN.test(name)) {
      throw invalidArgument(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    return path.join(this.root, name, '_data');
  }

  /** Returns the volume's data directory, creating the volume if needed. */
  async ensure(name: string): Promise<string> {
    return path.join(this.root, (await this.create(name)).Name, '_data');
  }

  /** Creates the volume, or returns the existing one (Docker's create is idempotent). */
  async create(name: string, options: { labels?: Record<string, string>; driverOpts?: Record<string, string> } = {}): Promise<VolumeRecord> {
    const data = this.dataPath(name);
    const existing = await this.get(name);
    if (existing) return existing;
    if (options.driverOpts && Object.keys(options.driverOpts).length > 0) {
      throw invalidArgument(`create ${name}: driver options are not supported by the local driver of berth`);
    }
    await fs.mkdir(data, { recursive: true, mode: 0o755 });
    const record: VolumeRecord = { Name: name, CreatedAt: new Date().toISOString(), Labels: options.labels ?? {}, Options: {} };
    await writeJsonAtomic(path.join(this.root, name, 'volume.json'), record);
    return record;
  }

  async get(name: string): Promise<VolumeRecord | undefined> {
    this.dataPath(name);
    return readJsonIfExists<VolumeRecord>(path.join(this.root, name, 'volume.json'));
  }

  async list(): Promise<VolumeRecord[]> {
    let names: string[];
    try {
      names = (await fs.readdir(this.root)).filter((n) => NAME_PATTERN.test(n));
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
    const records = await Promise.all(names.map((n) => this.get(n)));
    return records.filter((r): r is VolumeRecord => r !== undefined);
  }

  /** Removes the volume and its data; `usedBy` lists containers that still mount it. */
  async remove(name: string, usedBy: string[] = []): Promise<void> {
    if (!(await this.get(name))) throw notFound(`get ${name}: no such volume`);
    if (usedBy.length > 0) throw conflict(`remove ${name}: volume is in use - [${usedBy.join(', ')}]`);
    const doomed = path.join(this.root, `.rm-${name}`);
    await fs.rename(path.join(this.root, name), doomed);
    // What containers wrote: removed by fd, never through a symlink or into a mount inside.
    await removeTree(doomed);
  }

  async size(name: string): Promise<number> {
    return directorySize(path.join(this.root, name, '_data'));
  }
}
