import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { native } from '../../native';
import { closeFd, openHostDir } from '../../util/fs-at';

/** Facts about the host that /info reports, each read from the kernel rather than assumed. */

/** statfs f_type → the name dockerd's fsutils gives it ("Backing Filesystem"). */
const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x2fc12fc1: 'zfs',
  0x794c7630: 'overlayfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
  0xf2f52010: 'f2fs',
  0x858458f6: 'ramfs',
  0x73717368: 'squashfs',
  0x52654973: 'reiserfs',
  0x5346544e: 'ntfs',
  0x4d44: 'msdos',
};

/** The file system under `dir` as dockerd names it, or its magic number in hex when unknown. */
export async function backingFilesystem(dir: string): Promise<string> {
  const { type } = await fs.statfs(dir);
  return FS_NAMES[type] ?? `<unknown 0x${type.toString(16)}>`;
}

/**
 * Whether the file system under `dir` fills in d_type (overlay needs it), checked as moby's
 * fsutils.SupportsDType does: a file in a fresh directory there, read back with readdir.
 */
export async function supportsDType(dir: string): Promise<boolean> {
  const probe = await fs.mkdtemp(path.join(dir, '.tmp-dtype-'));
  try {
    await fs.writeFile(path.join(probe, 'probe'), '');
    const fd = openHostDir(probe);
    try {
      return native.direntTypesKnown(fd);
    } finally {
      closeFd(fd);
    }
  } finally {
    await fs.rm(probe, { recursive: true, force: true });
  }
}

/** Whether the kernel offers seccomp filtering (the Seccomp line of /proc/self/status). */
export async function seccompAvailable(): Promise<boolean> {
  return /^Seccomp:/m.test(await readOr('/proc/self/status', ''));
}

/** Whether AppArmor is enabled on the host. */
export async function appArmorEnabled(): Promise<boolean> {
  return (await readOr('/sys/module/apparmor/parameters/enabled', '')).startsWith('Y');
}

/** A sysctl under /proc/sys as a boolean ("1"); false when the file is absent. */
export async function sysctlEnabled(name: string): Promise<boolean> {
  return (await readOr(path.join('/proc/sys', ...name.split('.')), '0')).trim() === '1';
}

/** Whether cgroup v1 can limit kernel TCP buffer memory (moby's KernelMemoryTCP). */
export async function kernelMemoryTcp(cgroupVersion: '1' | '2'): Promise<boolean> {
  if (cgroupVersion !== '1') return false;
  return fs.access('/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes').then(() => true, () => false);
}

/** The commit `<runc> --version` names (its "commit:" line), as dockerd reports RuncCommit; '' when it does not say. */
export async function runcCommit(runc: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(runc, ['--version'], { timeout: 10_000 }, (err, stdout) => resolve(err ? '' : (/^commit: *(\S+)/m.exec(stdout)?.[1] ?? '')));
  });
}

/** A proxy URL from the environment as dockerd shows it: credentials masked. */
export function maskProxyCredentials(value: string | undefined): string {
  if (!value) return '';
  try {
    const url = new URL(value);
    if (!url.username && !url.password) return value;
    url.username = 'xxxxx';
    url.password = 'xxxxx';
    return url.toString();
  } catch {
    return value;
  }
}

export { lookPath } from '../../util/look-path';

async function readOr(file: string, fallback: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return fallback;
  }
}
