import type { Stats } from 'node:fs';
import * as path from 'node:path';
import type { Change } from '../types';
import { native } from '../../native';
import { closeFd, lstatChild, openHostDir } from '../../util/fs-at';
import { InitEntry, isOpaque, isRuntimeMade, lstatInRoot } from './init-entries';

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
 *
 * `initEntries` are entries every container has below its RW layer in Docker (its init
 * layer), some of which berth's runtime makes in the RW layer instead (mount points): they
 * are taken as present in the lower dirs. So one in upper is a change (C) unless it is what
 * the runtime makes (an empty file, a directory), and a directory that holds nothing else
 * is not changed by them.
 */
export async function overlayChanges(upper: string, lowers: string[], initEntries: ReadonlyMap<string, InitEntry> = new Map()): Promise<Change[]> {
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
    const below = lowerStat(p);
    const init = below ? undefined : initEntries.get(p);
    if (!below && !init) return { Path: p, Kind: 1 };
    if (below?.isDirectory() && st.isDirectory() && below.mode === st.mode) {
      if (below.size === st.size && below.mtimeMs === st.mtimeMs) return undefined;
      // Its mtime and size changed only because the runtime made its mount points in it.
      if (holdsOnlyRuntimeMade(fd, p, false)) return undefined;
    }
    if (init?.made === 'dir' && st.isDirectory() && holdsOnlyRuntimeMade(fd, p, true)) return undefined;
    if (init?.made === 'file' && st.isFile() && st.size === 0) return undefined;
    return { Path: p, Kind: 0 };
  }

  function lowerStat(p: string): Stats | undefined {
    for (const lower of lowerFds) {
      const below = lstatInRoot(lower, p);
      if (below) return below;
    }
    return undefined;
  }

  /** True when everything in the upper directory `p` is init entries the runtime made (absent below). */
  function holdsOnlyRuntimeMade(dirFd: number, p: string, orNothing: boolean): boolean {
    const names = native.readdirFd(dirFd);
    if (names.length === 0) return orNothing;
    return names.every((name) => {
      const entryPath = p === '/' ? `/${name}` : `${p}/${name}`;
      const init = initEntries.get(entryPath);
      if (!init) return false;
      const child = lstatChild(dirFd, name);
      if (!child) return true; // removed while we looked
      try {
        return isRuntimeMade(child.st, init) && !lowerStat(entryPath);
      } finally {
        closeFd(child.fd);
      }
    });
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
