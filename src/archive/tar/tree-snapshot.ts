import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

/** One line per path describing type, mode, owner, mtime and content, for comparing trees in tests. */
export async function treeSnapshot(root: string, opts: { mtimes?: boolean } = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await fs.readdir(dir)).sort()) {
      const host = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(host);
      let what = '';
      if (st.isFile()) what = `file ${createHash('sha256').update(await fs.readFile(host)).digest('hex').slice(0, 12)}`;
      else if (st.isDirectory()) what = 'dir';
      else if (st.isSymbolicLink()) what = `symlink ${await fs.readlink(host)}`;
      else if (st.isCharacterDevice()) what = `char ${st.rdev}`;
      else if (st.isBlockDevice()) what = `block ${st.rdev}`;
      else if (st.isFIFO()) what = 'fifo';
      const mode = st.isSymbolicLink() ? '' : ` mode=${(st.mode & 0o7777).toString(8)}`;
      const mtime = opts.mtimes === false ? '' : ` mtime=${Math.floor(st.mtimeMs / 1000)}`;
      out[r] = `${what}${mode} owner=${st.uid}:${st.gid}${mtime}`;
      if (st.isDirectory()) await walk(host, r);
    }
  }
  await walk(root, '');
  return out;
}
