import type { SnapshotUsage } from '../types';
import { native } from '../../native';
import { isENOENT } from '../../errors';
import { closeFd, lstatChild, openHostDir } from '../../util/fs-at';

/**
 * Apparent size of a tree's non-directories and its inode count (the root excluded), each
 * inode counted once however many hard links it has. Walked on fds (each name opened
 * O_NOFOLLOW from its directory's fd): a live upper dir belongs to a running container,
 * and a directory it swaps for a symlink to `/` must not make us walk the host.
 */
export async function treeUsage(root: string): Promise<SnapshotUsage> {
  const seen = new Set<number>();
  let size = 0;
  function visit(dirFd: number): void {
    for (const name of native.readdirFd(dirFd)) {
      const child = lstatChild(dirFd, name);
      if (!child) continue; // removed while we walked (a live upper dir)
      try {
        if (seen.has(child.st.ino)) continue;
        seen.add(child.st.ino);
        if (child.st.isDirectory()) visit(child.fd);
        else size += child.st.size;
      } finally {
        closeFd(child.fd);
      }
    }
  }
  let rootFd: number;
  try {
    rootFd = openHostDir(root);
  } catch (err) {
    if (isENOENT(err)) return { size, inodes: 0 };
    throw err;
  }
  try {
    visit(rootFd);
  } finally {
    closeFd(rootFd);
  }
  return { size, inodes: seen.size };
}
