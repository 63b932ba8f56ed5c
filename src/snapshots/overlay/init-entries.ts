import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { native } from '../../native';
import { errnoCode, isENOENT } from '../../errors';
import { OVERLAY_OPAQUE_XATTR } from '../../archive/tar/whiteout';
import { closeFd, lstatChild, openHostDir, openInRoot } from '../../util/fs-at';

/**
 * Docker keeps a container's mount points (/dev, /proc, /etc/hosts, ...) in an init layer
 * under its RW layer; berth's runtime makes the missing ones in the RW layer itself. These
 * helpers tell them apart from the container's own changes, for `diff` and commit.
 */

/**
 * A path of Docker's init layer. `made`: what berth's runtime makes there in the RW layer
 * when it is missing (a mount point: a directory or an empty file); null for the ones only
 * Docker's init layer has (/.dockerenv, /etc/mtab), where any entry in upper is a change.
 */
export interface InitEntry {
  made: 'dir' | 'file' | null;
}

/** True when `st` is what the runtime makes for `init` (an empty directory is checked by the caller). */
export function isRuntimeMade(st: Stats, init: InitEntry): boolean {
  if (init.made === 'dir') return st.isDirectory();
  if (init.made === 'file') return st.isFile() && st.size === 0;
  return false;
}

export function isOpaque(dirFd: number): boolean {
  const value = native.fgetxattr(dirFd, OVERLAY_OPAQUE_XATTR);
  return value !== undefined && value.length === 1 && value[0] === 0x79;
}

/** lstat of `p` inside a lower dir: its parent resolved in the lower dir as its root, the name not followed. */
export function lstatInRoot(lowerFd: number, p: string): Stats | undefined {
  const parent = openDirInRoot(lowerFd, path.posix.dirname(p));
  if (parent === undefined) return undefined;
  try {
    const child = lstatChild(parent, path.posix.basename(p));
    if (!child) return undefined;
    closeFd(child.fd);
    return child.st;
  } finally {
    closeFd(parent);
  }
}

function openDirInRoot(rootFd: number, dir: string): number | undefined {
  try {
    return openInRoot(rootFd, dir, { directory: true });
  } catch (err) {
    if (isENOENT(err) || errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'ELOOP') return undefined;
    throw err;
  }
}

/** The directory `dir` under `rootFd`, walked one name at a time with no symlink followed; undefined if it is not one. */
function openDirNoFollow(rootFd: number, dir: string): number | undefined {
  let fd = openInRoot(rootFd, '/', { directory: true });
  for (const name of dir.split('/').filter((n) => n !== '')) {
    const child = lstatChild(fd, name);
    closeFd(fd);
    if (!child) return undefined;
    if (!child.st.isDirectory()) {
      closeFd(child.fd);
      return undefined;
    }
    fd = child.fd;
  }
  return fd;
}

/**
 * Removes from an upper dir (a copy of a container's, about to be committed) what the
 * runtime made there and Docker would have in the init layer instead: empty files and empty
 * directories at init paths the lower dirs lack, and an init directory the lower dirs have
 * that was copied up only to hold them. Deepest paths first, each on its parent's fd.
 */
export function dropRuntimeMade(upper: string, lowers: string[], entries: ReadonlyMap<string, InitEntry>): void {
  const upperFd = openHostDir(upper);
  const lowerFds: number[] = [];
  try {
    for (const lower of lowers) lowerFds.push(openHostDir(lower));
    const below = (p: string): Stats | undefined => {
      for (const fd of lowerFds) {
        const st = lstatInRoot(fd, p);
        if (st) return st;
      }
      return undefined;
    };
    const deepestFirst = [...entries.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const p of deepestFirst) {
      const init = entries.get(p) as InitEntry;
      if (init.made === null) continue;
      const parent = openDirNoFollow(upperFd, path.posix.dirname(p));
      if (parent === undefined) continue;
      try {
        const name = path.posix.basename(p);
        const child = lstatChild(parent, name);
        if (!child) continue;
        let remove = false;
        try {
          const lower = below(p);
          if (child.st.isDirectory()) {
            const empty = !isOpaque(child.fd) && native.readdirFd(child.fd).length === 0;
            const same = lower?.isDirectory() && lower.mode === child.st.mode && lower.uid === child.st.uid && lower.gid === child.st.gid;
            remove = empty && (lower ? same === true : init.made === 'dir');
          } else {
            remove = !lower && isRuntimeMade(child.st, init);
          }
        } finally {
          closeFd(child.fd);
        }
        if (remove) native.unlinkat(parent, name, child.st.isDirectory() ? native.constants.AT_REMOVEDIR : 0);
      } finally {
        closeFd(parent);
      }
    }
  } finally {
    closeFd(upperFd);
    for (const fd of lowerFds) closeFd(fd);
  }
}
