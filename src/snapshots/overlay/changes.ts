import type { Stats } from 'node:fs';
import * as path from 'node:path';
import type { Change } from '../types';
import { native } from '../../native';
import { isENOENT, errnoCode } from '../../errors';
import { OVERLAY_OPAQUE_XATTR } from '../../archive/tar/whiteout';
import { closeFd, lstatChild, openHostDir, openInRoot } from '../../util/fs-at';

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
 * Sorted by path. The upper dir belongs to a container that may be running: it is walked
 * on fds (each name opened O_NOFOLLOW from its directory's fd), so a directory swapped
 * for a symlink to a host path is never followed.
 */
export async function overlayChanges(upper: string, lowers: string[]): Promise<Change[]> {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const upperFd = openHostDir(upper);
  const lowerFds: number[] = [];

  function visit(dirFd: number, dirPath: string): void {
    for (const name of native.readdirFd(dirFd).sort()) {
      const child = lstatChild(dirFd, name);
      if (!child) continue; // removed while we walked
      try {
        const p = dirPath === '/' ? `/${name}` : `${dirPath}/${name}`;
        const recorded = classify(child.fd, p, child.st);
        if (recorded) {
          if (child.st.isDirectory()) changedDirs.add(p);
          if (recorded.Kind !== 0) {
            const parent = path.posix.dirname(p);
            if (parent !== '/' && !changedDirs.has(parent)) {
              changes.push({ Path: parent, Kind: 0 });
              changedDirs.add(parent);
            }
          }
          changes.push(recorded);
        }
        if (child.st.isDirectory()) visit(child.fd, p);
      } finally {
        closeFd(child.fd);
      }
    }
  }

  function classify(fd: number, p: string, st: Stats): Change | undefined {
    if (isWhiteout(st) || (st.isDirectory() && isOpaque(fd))) return { Path: p, Kind: 2 };
    for (const lower of lowerFds) {
      const below = lstatInRoot(lower, p);
      if (!below) continue;
      if (below.isDirectory() && st.isDirectory() && below.mode === st.mode && below.size === st.size && below.mtimeMs === st.mtimeMs) {
        return undefined;
      }
      return { Path: p, Kind: 0 };
    }
    return { Path: p, Kind: 1 };
  }

  try {
    for (const lower of lowers) lowerFds.push(openHostDir(lower));
    visit(upperFd, '/');
  } finally {
    closeFd(upperFd);
    for (const fd of lowerFds) closeFd(fd);
  }
  return changes.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(dirFd: number): boolean {
  const value = native.fgetxattr(dirFd, OVERLAY_OPAQUE_XATTR);
  return value !== undefined && value.length === 1 && value[0] === 0x79;
}

/** lstat of `p` inside a lower dir: its parent resolved in the lower dir as its root, the name not followed. */
function lstatInRoot(lowerFd: number, p: string): Stats | undefined {
  let parent: number;
  try {
    parent = openInRoot(lowerFd, path.posix.dirname(p), { directory: true });
  } catch (err) {
    if (isENOENT(err) || errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'ELOOP') return undefined;
    throw err;
  }
  try {
    const child = lstatChild(parent, path.posix.basename(p));
    if (!child) return undefined;
    closeFd(child.fd);
    return child.st;
  } finally {
    closeFd(parent);
  }
}
