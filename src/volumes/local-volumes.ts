import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, isENOENT } from '../errors';

/**
 * Local named volumes: a directory per volume, <root>/<name>/_data, created on first use
 * (as `docker run -v name:/path` does). Data stays on the host until the volume is removed.
 */
export class LocalVolumes {
  constructor(readonly root: string) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  dataPath(name: string): string {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`invalid volume name: ${name}`);
    return path.join(this.root, name, '_data');
  }

  /** Returns the volume's data directory, creating the volume if needed. */
  async ensure(name: string): Promise<string> {
    const data = this.dataPath(name);
    await fs.mkdir(data, { recursive: true, mode: 0o755 });
    return data;
  }

  async list(): Promise<string[]> {
    try {
      return (await fs.readdir(this.root)).filter((n) => !n.startsWith('.'));
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
  }

  async remove(name: string): Promise<void> {
    await fs.rm(path.join(this.root, name), { recursive: true, force: true });
  }

  async size(name: string): Promise<number> {
    return directorySize(path.join(this.root, name));
  }
}

/** Apparent size of a tree, without following symlinks. */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isENOENT(err)) return 0;
    throw err;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directorySize(full);
    else {
      const stat = await fs.lstat(full).catch(() => undefined);
      if (stat) total += stat.size;
    }
  }
  return total;
}
