import type { Mount } from './types';
import { native, MountFlags, UnmountFlags } from '../native';
import { errnoCode, failedPrecondition, invalidArgument } from '../errors';
import { isMountPoint } from './overlay/mountinfo';

/** mount(2) data must fit in one page, NUL included. */
export const MAX_MOUNT_DATA = 4095;

/** Option words that are mount(2) flags; every other option goes into the fs-specific data. */
const FLAG_OPTIONS: Record<string, { set: number; clear: number }> = {
  ro: { set: MountFlags.MS_RDONLY, clear: 0 },
  rw: { set: 0, clear: MountFlags.MS_RDONLY },
  bind: { set: MountFlags.MS_BIND, clear: 0 },
  rbind: { set: MountFlags.MS_BIND | MountFlags.MS_REC, clear: 0 },
  nosuid: { set: MountFlags.MS_NOSUID, clear: 0 },
  nodev: { set: MountFlags.MS_NODEV, clear: 0 },
  noexec: { set: MountFlags.MS_NOEXEC, clear: 0 },
};

/** Splits a mount's options into mount(2) flags and the data string. */
export function mountArguments(m: Mount): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const option of m.options) {
    const flag = FLAG_OPTIONS[option];
    if (flag) flags = (flags | flag.set) & ~flag.clear;
    else data.push(option);
  }
  const joined = data.join(',');
  if (Buffer.byteLength(joined) > MAX_MOUNT_DATA) {
    throw failedPrecondition(`cannot mount ${m.type}: its options are ${Buffer.byteLength(joined)} bytes, over one page (too many layers)`);
  }
  return { flags, data: joined };
}

/**
 * Mounts `mounts` on `target`, in order (a snapshotter returns one). A read-only bind
 * needs a second, remounting call: the kernel ignores MS_RDONLY on the first.
 */
export function mountAll(mounts: Mount[], target: string): void {
  if (mounts.length === 0) throw invalidArgument('no mounts to mount');
  for (const m of mounts) {
    const { flags, data } = mountArguments(m);
    native.mount(m.source, target, m.type, flags, data);
    if (flags & MountFlags.MS_BIND && flags & MountFlags.MS_RDONLY) {
      try {
        native.mount('', target, '', flags | MountFlags.MS_REMOUNT, '');
      } catch (err) {
        native.umount(target, UnmountFlags.MNT_DETACH);
        throw err;
      }
    }
  }
}

/**
 * Unmounts `target` until nothing is mounted there; lazily (MNT_DETACH) when it is busy.
 * Idempotent. umount(2) itself says when nothing is left (EINVAL: not a mount point;
 * ENOENT: no such path), so mountinfo is read only when it keeps failing.
 */
export async function unmountAll(target: string): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      native.umount(target, UnmountFlags.UMOUNT_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EINVAL' || code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      native.umount(target, UnmountFlags.MNT_DETACH | UnmountFlags.UMOUNT_NOFOLLOW);
    }
  }
  if (await isMountPoint(target)) throw failedPrecondition(`cannot unmount ${target}`);
}
