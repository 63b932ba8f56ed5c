import { promises as fs } from 'node:fs';
import { isENOENT } from '../errors';

/** Whether `p` exists, not following a final symlink; errors other than ENOENT are thrown, not read as "absent". */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if (isENOENT(err)) return false;
    throw err;
  }
}
