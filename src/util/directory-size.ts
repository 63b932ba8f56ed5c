import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isENOENT } from '../errors';

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
