import { fstatSync, read, write, type BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { native } from '../native';
import { errnoCode } from '../errors';
import { closeFd, lstatChild, openChild, openForReading } from '../util/fs-at';

const C = () => native.constants;
const readAt = promisify(read);
const writeAt = promisify(write);
const CHUNK = 256 * 1024;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
/** Overlay's own attributes (opaque dirs, redirects) describe the layer, not the files. */
const SKIPPED_XATTR_PREFIX = 'trusted.overlay.';

/**
 * Copies the tree under the directory fd `src` into the directory fd `dst`, as continuity's
 * fs.CopyDir does for dockerd's volume copy-up: files, directories, symlinks (as symlinks,
 * never followed), devices and fifos, with owner, mode, nanosecond mtimes and xattrs where
 * the destination takes them (overlay's own are skipped); hard links inside the tree stay
 * hard links; sockets are skipped. `dst`
 * itself takes `src`'s owner, mode and mtime. Both sides are reached only on fds: each
 * name is opened with O_NOFOLLOW from its directory's fd and made with *at calls in the
 * destination directory's fd (O_EXCL), so neither tree can lead the copy anywhere else.
 * Both fds stay the caller's.
 */
export async function copyTree(src: number, dst: number): Promise<void> {
  const links = new Map<string, { fd: number; left: number }>();
  try {
    await copyChildren(src, dst, links);
  } finally {
    for (const { fd } of links.values()) closeFd(fd);
  }
  // `.` under the fd lists the directory itself.
  setMetadata(dst, fstatSync(src, { bigint: true }), { dir: src, name: '.', fd: src });
}

async function copyChildren(srcDir: number, dstDir: number, links: Map<string, { fd: number; left: number }>): Promise<void> {
  for (const name of native.readdirFd(srcDir).sort()) {
    const child = lstatChild(srcDir, name);
    if (!child) continue; // gone meanwhile
    try {
      const st = fstatSync(child.fd, { bigint: true });
      if (st.isDirectory()) {
        native.mkdirat(dstDir, name, 0o700);
        await withMade(dstDir, name, 'directory', async (made) => {
          await copyChildren(child.fd, made, links);
          setMetadata(made, st, { dir: srcDir, name, fd: child.fd });
        });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1n ? links.get(key) : undefined;
        if (first && linkTo(first.fd, dstDir, name)) {
          if (--first.left <= 0) {
            closeFd(first.fd);
            links.delete(key);
          }
          continue;
        }
        await copyFile(child.fd, dstDir, name);
        await withMade(dstDir, name, 'file', (made) => setMetadata(made, st, { dir: srcDir, name, fd: child.fd }));
        if (st.nlink > 1n && !first) links.set(key, { fd: openChild(dstDir, name), left: Number(st.nlink) - 1 });
      } else if (st.isSymbolicLink()) {
        native.symlinkat(native.readlinkat(child.fd, ''), dstDir, name);
        native.fchownat(dstDir, name, Number(st.uid), Number(st.gid), C().AT_SYMLINK_NOFOLLOW);
        setTimesAt(dstDir, name, st.mtimeNs, C().AT_SYMLINK_NOFOLLOW);
      } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
        const type = st.isFIFO() ? S_IFIFO : st.isCharacterDevice() ? S_IFCHR : S_IFBLK;
        const { major, minor } = splitDev(st.rdev);
        native.mknodat(dstDir, name, type | 0o600, major, minor);
        await withMade(dstDir, name, 'special', (made) => setMetadata(made, st, { dir: srcDir, name, fd: child.fd }));
      }
      // Sockets are not copied (as continuity's CopyDir).
    } finally {
      closeFd(child.fd);
    }
  }
}

/** Runs `fn` on an O_PATH fd of what was just made at `name`, checked to be of the kind made. */
async function withMade(dir: number, name: string, kind: 'directory' | 'file' | 'special', fn: (fd: number) => void | Promise<void>): Promise<void> {
  const fd = openChild(dir, name);
  try {
    const st = fstatSync(fd);
    const ok = kind === 'directory' ? st.isDirectory() : kind === 'file' ? st.isFile() : !st.isDirectory() && !st.isFile() && !st.isSymbolicLink();
    if (!ok) throw Object.assign(new Error(`copy: ${name} changed while being copied`), { code: 'ESTALE' });
    await fn(fd);
  } finally {
    closeFd(fd);
  }
}

/** A hard link to the inode `fd` holds (linkat AT_EMPTY_PATH); false when the kernel refuses, so the caller copies instead. */
function linkTo(fd: number, dir: number, name: string): boolean {
  try {
    native.linkat(fd, '', dir, name, C().AT_EMPTY_PATH);
    return true;
  } catch (err) {
    if (['EPERM', 'ENOENT', 'EXDEV', 'EMLINK'].includes(errnoCode(err) ?? '')) return false;
    throw err;
  }
}

async function copyFile(srcPathFd: number, dstDir: number, name: string): Promise<void> {
  const input = openForReading(srcPathFd);
  try {
    const output = native.openat(dstDir, name, C().O_WRONLY | C().O_CREAT | C().O_EXCL | C().O_NOFOLLOW, 0o600);
    try {
      const buffer = Buffer.alloc(CHUNK);
      for (let offset = 0; ; ) {
        const { bytesRead } = await readAt(input, buffer, 0, CHUNK, offset);
        if (bytesRead === 0) break;
        for (let written = 0; written < bytesRead; ) {
          written += (await writeAt(output, buffer, written, bytesRead - written, offset + written)).bytesWritten;
        }
        offset += bytesRead;
      }
    } finally {
      closeFd(output);
    }
  } finally {
    closeFd(input);
  }
}

/** The source of an entry: its directory's fd, its name there, and an O_PATH fd of it. */
interface Source {
  dir: number;
  name: string;
  fd: number;
}

/** Owner, then mode (chown clears set-id bits), xattrs and mtime of `st`, set on the fd of the copy. */
function setMetadata(fd: number, st: BigIntStats, source?: Source): void {
  native.fchownat(fd, '', Number(st.uid), Number(st.gid), C().AT_EMPTY_PATH);
  native.fchmodAny(fd, Number(st.mode) & 0o7777);
  if (source) copyXattrs(source, fd);
  setTimesAt(fd, '', st.mtimeNs, C().AT_EMPTY_PATH);
}

/**
 * The addon lists xattrs by path only: the name is listed under the directory fd we hold
 * (`/proc/self/fd/<dir>/<name>`, final name not followed), each value then read from the
 * entry's own fd. One the destination refuses (ENOTSUP, EPERM: another fs, an LSM) is
 * skipped, as "where possible".
 */
function copyXattrs(source: Source, to: number): void {
  let names: string[];
  try {
    names = native.llistxattr(`/proc/self/fd/${source.dir}/${source.name}`);
  } catch (err) {
    if (isUnsupported(err)) return;
    throw err;
  }
  for (const name of names) {
    if (name.startsWith(SKIPPED_XATTR_PREFIX)) continue;
    try {
      const value = native.fgetxattr(source.fd, name);
      if (value !== undefined) native.fsetxattr(to, name, value);
    } catch (err) {
      if (!isUnsupported(err)) throw err;
    }
  }
}

function isUnsupported(err: unknown): boolean {
  return ['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EACCES', 'ENODATA'].includes(errnoCode(err) ?? '');
}

function setTimesAt(dir: number, name: string, mtimeNs: bigint, flags: number): void {
  native.utimensat(dir, name, Number(mtimeNs / 1_000_000_000n), Number(mtimeNs % 1_000_000_000n), flags);
}

/** Linux's makedev encoding, from a bigint st_rdev. */
function splitDev(rdev: bigint): { major: number; minor: number } {
  return { major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)), minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)) };
}
