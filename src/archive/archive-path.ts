import type { Readable } from 'node:stream';
import { packDirectory } from './tar/pack';
import { baseName, resolveContainerPath } from './resolve-path';
import { statPath } from './path-stat';

/**
 * A tar of `p` inside root (a file, a symlink, or a directory with its contents), its
 * entries named under the path's base name, as GET /containers/{id}/archive returns.
 * Throws NotFound synchronously, before any byte is streamed.
 */
export function archivePath(root: string, p: string): Readable {
  statPath(root, p); // NotFound now rather than as a stream error
  const { absPath, host } = resolveContainerPath(root, p);
  const name = baseName(absPath);
  return packDirectory(host, { rebaseName: name === '/' ? '.' : name });
}

/** The whole tree of a mounted container root, for `docker export`. */
export function exportRootfs(mountPoint: string): Readable {
  return packDirectory(mountPoint);
}
