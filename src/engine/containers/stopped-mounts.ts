import { statSync } from 'node:fs';
import * as path from 'node:path';
import { native, MountFlags, UnmountFlags } from '../../native';
import { closeFd, RootWalk } from '../../util/fs-at';
import type { ContainerMountConfig } from '../../runtime/spec/container-config';

/**
 * Binds a stopped container's volumes and bind mounts into its mounted root file system,
 * as moby's mountVolumes does for `cp` and the archive routes, so they see what the
 * container would. Each mount point is walked inside the root on fds (a symlink in the
 * container can never send a mount onto a host path) and mounted on through
 * /proc/self/fd; missing directories are created, as a start would. Returns the undo.
 */
export function bindMountsInRoot(rootFd: number, mounts: readonly ContainerMountConfig[]): () => void {
  const mounted: number[] = [];
  const undo = () => {
    // Innermost first; each fd holds its mount's root, so the detach hits that very mount.
    for (const fd of mounted.reverse()) {
      try {
        native.umount(`/proc/self/fd/${fd}`, UnmountFlags.MNT_DETACH);
      } finally {
        closeFd(fd);
      }
    }
  };
  try {
    // Parents before children (/data before /data/sub), as at start.
    const ordered = mounts.filter((m) => m.type !== 'tmpfs').sort((a, b) => depth(a.destination) - depth(b.destination));
    for (const mount of ordered) {
      const isDir = statSync(mount.source).isDirectory();
      const walk = RootWalk.at(rootFd);
      try {
        if (isDir) walk.walk(mount.destination, { create: true });
        else {
          try {
            walk.walk(mount.destination);
          } catch {
            continue; // a file bind mount onto nothing: there is nothing to copy to or from
          }
        }
        const flags = MountFlags.MS_BIND | MountFlags.MS_REC;
        native.mount(mount.source, `/proc/self/fd/${walk.fd}`, '', flags, '');
      } finally {
        walk.close();
      }
      // The mount now sits where the walk stood: hold its root for the undo (and a read-only remount).
      const over = RootWalk.at(rootFd);
      over.walk(mount.destination);
      const fd = native.reopen(over.fd, native.constants.O_PATH);
      over.close();
      mounted.push(fd);
      if (mount.readonly) native.mount('', `/proc/self/fd/${fd}`, '', MountFlags.MS_BIND | MountFlags.MS_REMOUNT | MountFlags.MS_RDONLY, '');
    }
  } catch (err) {
    undo();
    throw err;
  }
  return undo;
}

const depth = (p: string) => path.posix.normalize(p).split('/').filter(Boolean).length;
