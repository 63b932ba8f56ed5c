import * as path from 'node:path';
import { closeFd, openChild, openInRoot } from '../util/fs-at';
import { errnoCode, notFound } from '../errors';

export interface OpenedPath {
  /** The path inside the container, absolute, with a trailing `/` or `/.` kept. */
  absPath: string;
  /** An O_PATH fd of what the path names (the caller closes it). */
  fd: number;
}

/**
 * Docker's container.ResolvePath, on fds: the directory part is resolved in the
 * container's root (openat2 RESOLVE_IN_ROOT: symlinks followed, never out of it); the last
 * element is opened O_NOFOLLOW from that directory's fd, so a symlink is reported and
 * archived as a symlink, unless the path ends with `/` or `/.`. Throws NotFound (message:
 * the path) when it does not exist.
 */
export function openContainerPath(rootFd: number, p: string): OpenedPath {
  let absPath = path.posix.join('/', p);
  if ((p.endsWith('/.') || p === '.') && absPath !== '/') absPath += '/.';
  else if (p.endsWith('/') && absPath !== '/') absPath += '/';
  try {
    if (absPath === '/' || absPath.endsWith('/') || absPath.endsWith('/.')) {
      return { absPath, fd: openInRoot(rootFd, absPath) };
    }
    const parent = openInRoot(rootFd, path.posix.dirname(absPath), { directory: true });
    try {
      return { absPath, fd: openChild(parent, path.posix.basename(absPath)) };
    } finally {
      closeFd(parent);
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw notFound(p, err);
    throw err;
  }
}

/** The name Docker gives a path's entry: filepath.Base of absPath ("." for "dir/.", "/" for "/"). */
export function baseName(absPath: string): string {
  if (absPath === '/') return '/';
  if (absPath.endsWith('/.')) return '.';
  return path.posix.basename(absPath);
}
