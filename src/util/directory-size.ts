import { native } from '../native';
import { isENOENT } from '../errors';
import { closeFd, lstatChild, openHostDir } from './fs-at';

/**
 * Apparent size of a tree, without following symlinks. Walked on fds (each name opened
 * O_NOFOLLOW from its directory's fd): the trees measured (RW layers, volumes) belong to
 * containers that may be running, and a directory swapped for a symlink to `/` must not
 * make us walk the host.
 */
export async function directorySize(dir: string): Promise<number> {
  let fd: number;
  try {
    fd = openHostDir(dir);
  } catch (err) {
    if (isENOENT(err)) return 0;
    throw err;
  }
  try {
    return sizeUnder(fd);
  } finally {
    closeFd(fd);
  }
}

function sizeUnder(dirFd: number): number {
  let total = 0;
  for (const name of native.readdirFd(dirFd)) {
    const child = lstatChild(dirFd, name);
    if (!child) continue;
    try {
      total += child.st.isDirectory() ? sizeUnder(child.fd) : child.st.size;
    } finally {
      closeFd(child.fd);
    }
  }
  return total;
}
