import type { Readable } from 'node:stream';
import { packFd } from './tar/pack';
import { openInRoot } from '../util/fs-at';
import { baseName, openContainerPath } from './resolve-path';

/**
 * A tar of `p` inside the root `rootFd` (a file, a symlink, or a directory with its
 * contents), its entries named under the path's base name, as GET
 * /containers/{id}/archive returns. Throws NotFound synchronously, before any byte is
 * streamed. The stream holds its own fds: the caller may close rootFd once it has it.
 */
export function archivePath(rootFd: number, p: string): Readable {
  const { absPath, fd } = openContainerPath(rootFd, p);
  const name = baseName(absPath);
  return packFd(fd, { rebaseName: name === '/' ? '.' : name });
}

/** The whole tree of a container root, for `docker export`. */
export function exportRootfs(rootFd: number): Readable {
  return packFd(openInRoot(rootFd, '/', { directory: true }));
}
