import { lstatSync } from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { isENOENT, errnoCode, notFound } from '../errors';
import { goFileMode, rfc3339Nano } from './file-mode';
import { baseName, resolveContainerPath } from './resolve-path';

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

/** Stats `p` inside the container root `root`. Throws NotFound (message: the path) when absent. */
export function statPath(root: string, p: string): PathStat {
  const { absPath, host } = resolveContainerPath(root, p);
  let st;
  try {
    st = lstatSync(host, { bigint: true });
  } catch (err) {
    if (isENOENT(err) || errnoCode(err) === 'ENOTDIR') throw notFound(p, err);
    throw err;
  }
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    const target = native.resolveInRoot(root, absPath);
    linkTarget = path.posix.join('/', path.relative(root, target));
  }
  return { name: baseName(absPath), size: Number(st.size), mode: goFileMode(st), mtime: rfc3339Nano(st.mtimeNs), linkTarget };
}
