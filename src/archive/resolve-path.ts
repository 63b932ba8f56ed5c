import * as path from 'node:path';
import { native } from '../native';

export interface ResolvedPath {
  /** The path inside the container, absolute, with a trailing `/` or `/.` kept. */
  absPath: string;
  /** The host path: the parent resolved in root, the last name not followed (unless absPath ends in `/` or `/.`). */
  host: string;
}

/**
 * Docker's container.ResolvePath: the directory part is resolved in the container's
 * root (symlinks followed, never out of it); the last element is not followed, so a
 * symlink is reported and archived as a symlink, unless the path ends with `/` or `/.`.
 */
export function resolveContainerPath(root: string, p: string): ResolvedPath {
  let absPath = path.posix.join('/', p);
  if ((p.endsWith('/.') || p === '.') && absPath !== '/') absPath += '/.';
  else if (p.endsWith('/') && absPath !== '/') absPath += '/';
  if (absPath === '/') return { absPath, host: root };
  if (absPath.endsWith('/') || absPath.endsWith('/.')) {
    return { absPath, host: native.resolveInRoot(root, absPath) };
  }
  const parent = native.resolveInRoot(root, path.posix.dirname(absPath));
  return { absPath, host: path.join(parent, path.posix.basename(absPath)) };
}

/** The name Docker gives a path's entry: filepath.Base of absPath ("." for "dir/.", "/" for "/"). */
export function baseName(absPath: string): string {
  if (absPath === '/') return '/';
  if (absPath.endsWith('/.')) return '.';
  return path.posix.basename(absPath);
}
