import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotUsage } from '../types';
import { isENOENT } from '../../errors';

/**
 * Apparent size of a tree's non-directories and its inode count (the root excluded), each
 * inode counted once however many hard links it has. Does not follow symlinks.
 */
export async function treeUsage(root: string): Promise<SnapshotUsage> {
  const seen = new Set<number>();
  let size = 0;
  async function visit(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (isENOENT(err)) return; // removed while we walked (a live upper dir)
      throw err;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      const st = await fs.lstat(full).catch((err: unknown) => {
        if (isENOENT(err)) return undefined;
        throw err;
      });
      if (!st || seen.has(st.ino)) continue;
      seen.add(st.ino);
      if (st.isDirectory()) await visit(full);
      else size += st.size;
    }
  }
  await visit(root);
  return { size, inodes: seen.size };
}
