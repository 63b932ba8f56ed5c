import { promises as fs, Stats } from 'node:fs';
import * as path from 'node:path';
import type { Change } from '../types';
import { native } from '../../native';
import { isENOENT, errnoCode } from '../../errors';
import { OVERLAY_OPAQUE_XATTR } from '../../archive/tar/whiteout';

/**
 * The changes an overlay upper dir holds over its lower dirs, computed as Docker's
 * `archive.OverlayChanges` does, so `docker diff` prints the same:
 * - a whiteout (char 0/0) is a deletion (D) of its path; so is an opaque directory
 *   (its lower contents were deleted), whose own entries then follow;
 * - a path absent from every lower dir is added (A), present in one is modified (C);
 * - a directory present in both with the same mode, size and mtime is not a change
 *   (it is in upper only because something below it changed);
 * - the parent of an added or deleted path is reported modified (C) unless it is `/`
 *   or was already reported.
 * Sorted by path.
 */
export async function overlayChanges(upper: string, lowers: string[]): Promise<Change[]> {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();

  async function visit(upperDir: string, dirPath: string): Promise<void> {
    for (const name of (await fs.readdir(upperDir)).sort()) {
      const host = path.join(upperDir, name);
      const p = dirPath === '/' ? `/${name}` : `${dirPath}/${name}`;
      const st = await fs.lstat(host);
      const recorded = await classify(host, p, st);
      if (recorded) {
        if (st.isDirectory()) changedDirs.add(p);
        if (recorded.Kind !== 0) {
          const parent = path.posix.dirname(p);
          if (parent !== '/' && !changedDirs.has(parent)) {
            changes.push({ Path: parent, Kind: 0 });
            changedDirs.add(parent);
          }
        }
        changes.push(recorded);
      }
      if (st.isDirectory()) await visit(host, p);
    }
  }

  async function classify(host: string, p: string, st: Stats): Promise<Change | undefined> {
    if (isWhiteout(st) || (st.isDirectory() && isOpaque(host))) return { Path: p, Kind: 2 };
    for (const lower of lowers) {
      const below = await lstatInRoot(lower, p);
      if (!below) continue;
      if (below.isDirectory() && st.isDirectory() && below.mode === st.mode && below.size === st.size && below.mtimeMs === st.mtimeMs) {
        return undefined;
      }
      return { Path: p, Kind: 0 };
    }
    return { Path: p, Kind: 1 };
  }

  await visit(upper, '/');
  return changes.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(dir: string): boolean {
  const value = native.lgetxattr(dir, OVERLAY_OPAQUE_XATTR);
  return value !== undefined && value.length === 1 && value[0] === 0x79;
}

/**
 * lstat of `p` inside a lower dir. Its parent is resolved in the lower dir's root, so a
 * symlink in an image cannot make us stat host paths.
 */
async function lstatInRoot(lower: string, p: string): Promise<Stats | undefined> {
  try {
    const parent = native.resolveInRoot(lower, path.posix.dirname(p));
    return await fs.lstat(path.join(parent, path.posix.basename(p)));
  } catch (err) {
    if (isENOENT(err) || errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'ELOOP') return undefined;
    throw err;
  }
}
