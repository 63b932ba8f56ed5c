import { fstatSync } from 'node:fs';
import { errnoCode } from '../errors';
import { goFileMode, rfc3339Nano } from './file-mode';
import { closeFd, RootWalk } from '../util/fs-at';
import { baseName, openContainerPath } from './resolve-path';

/** Docker's container PathStat, sent base64-JSON in the X-Docker-Container-Path-Stat header. */
export interface PathStat {
  name: string;
  size: number;
  /** Go os.FileMode bits (dir = 1<<31, symlink = 1<<27, ...). */
  mode: number;
  /** RFC 3339 with nanoseconds. */
  mtime: string;
  /** For a symlink, its target fully resolved inside the container (absolute); else ''. */
  linkTarget: string;
}

/** Stats `p` inside the container root `rootFd`, on fds. Throws NotFound (message: the path) when absent. */
export function statPath(rootFd: number, p: string): PathStat {
  const { absPath, fd } = openContainerPath(rootFd, p);
  let st;
  try {
    st = fstatSync(fd, { bigint: true });
  } finally {
    closeFd(fd);
  }
  const linkTarget = st.isSymbolicLink() ? resolvedInRoot(rootFd, absPath) : '';
  return { name: baseName(absPath), size: Number(st.size), mode: goFileMode(st), mtime: rfc3339Nano(st.mtimeNs), linkTarget };
}

/** Where `absPath` leads inside the root, symlinks followed (a dangling one: where it points). */
function resolvedInRoot(rootFd: number, absPath: string): string {
  const walk = RootWalk.at(rootFd);
  try {
    walk.walk(absPath);
    return walk.path;
  } catch (err) {
    const missing = (err as { missing?: string }).missing;
    if (errnoCode(err) === 'ENOENT' && missing !== undefined) return missing;
    throw err;
  } finally {
    walk.close();
  }
}
