import { readFileSync } from 'node:fs';
import { native } from '../native';
import { conflict, errnoCode } from '../errors';
import { closeFd } from '../util/fs-at';

/**
 * An O_PATH fd of a running container's root as its processes see it: /proc/<pid>/root,
 * in its mount namespace, so volumes, bind mounts and tmpfs mounts are there, and an
 * absolute symlink means the container's `/`. The /proc/<pid> directory is opened first
 * and everything after goes through that fd, which pins the process: if it exits and its
 * pid is reused, the lookups fail instead of reaching another process. That it is the
 * container's process is checked on its cgroup path, which names the container.
 */
export function openProcessRoot(pid: number, cgroupMarker: string): number {
  const C = native.constants;
  if (!Number.isInteger(pid) || pid <= 0) throw conflict(`container has no process (pid ${pid})`);
  let procFd: number;
  try {
    procFd = native.openat2(C.AT_FDCWD, `/proc/${pid}`, C.O_PATH | C.O_DIRECTORY, 0, C.RESOLVE_NO_SYMLINKS);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw conflict(`container process ${pid} is gone`, err);
    throw err;
  }
  try {
    const cgroupFd = native.openat(procFd, 'cgroup', C.O_RDONLY, 0);
    let cgroups: string;
    try {
      cgroups = readFileSync(cgroupFd, 'utf8');
    } finally {
      closeFd(cgroupFd);
    }
    if (!cgroups.includes(cgroupMarker)) throw conflict(`process ${pid} is no longer the container's`);
    return native.openat(procFd, 'root', C.O_PATH | C.O_DIRECTORY, 0);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ESRCH') throw conflict(`container process ${pid} is gone`, err);
    throw err;
  } finally {
    closeFd(procFd);
  }
}
