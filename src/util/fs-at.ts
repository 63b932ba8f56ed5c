import { closeSync, fstatSync, readFileSync, Stats } from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { errnoCode } from '../errors';

/**
 * File system calls relative to directory fds, for trees a container (or a tar) controls.
 * Nothing here takes a host path string inside such a tree: a name is opened one level at a
 * time with O_NOFOLLOW, or a path with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so
 * a symlink swapped in by a running container can never lead to a host file
 * (CVE-2018-15664). Every fd returned is owned by the caller (close it with closeFd).
 */

const C = () => native.constants;
const MAX_SYMLINK_HOPS = 40;

export function closeFd(fd: number): void {
  closeSync(fd);
}

/** Runs `fn` with `fd`, then closes it. */
export function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** An O_PATH fd of a trusted host directory (a data-root folder, a mount point). */
export function openHostDir(dir: string): number {
  return native.openat2(C().AT_FDCWD, dir, C().O_PATH | C().O_DIRECTORY, 0, 0);
}

/** An O_PATH fd of a trusted host path of any type, not following a final symlink. */
export function openHostPath(p: string): number {
  return native.openat2(C().AT_FDCWD, p, C().O_PATH | C().O_NOFOLLOW, 0, 0);
}

/**
 * An O_PATH fd of `p` looked up as if `rootFd` were `/`: `..` and symlinks, absolute or
 * relative, never leave it, and /proc magic links are refused. `follow` false leaves a
 * final symlink unfollowed; `directory` requires a directory.
 */
export function openInRoot(rootFd: number, p: string, opts: { follow?: boolean; directory?: boolean } = {}): number {
  let flags = C().O_PATH;
  if (opts.follow === false) flags |= C().O_NOFOLLOW;
  if (opts.directory) flags |= C().O_DIRECTORY;
  return native.openat2(rootFd, p, flags, 0, C().RESOLVE_IN_ROOT | C().RESOLVE_NO_MAGICLINKS);
}

/** An O_PATH fd of `rel` strictly beneath `dirFd` (no absolute symlink, no `..` above it). */
export function openBeneath(dirFd: number, rel: string, opts: { directory?: boolean } = {}): number {
  const flags = C().O_PATH | (opts.directory ? C().O_DIRECTORY : 0);
  return native.openat2(dirFd, rel === '' ? '.' : rel, flags, 0, C().RESOLVE_BENEATH | C().RESOLVE_NO_MAGICLINKS);
}

/** An O_PATH fd of one name in `dirFd`, never following it. */
export function openChild(dirFd: number, name: string): number {
  return native.openat(dirFd, name, C().O_PATH | C().O_NOFOLLOW, 0);
}

/** The fd and lstat of one name in `dirFd`; undefined when it does not exist. */
export function lstatChild(dirFd: number, name: string): { fd: number; st: Stats } | undefined {
  let fd: number;
  try {
    fd = openChild(dirFd, name);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return { fd, st: fstatSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** A readable fd of the regular file an O_PATH fd holds: the same inode, never a device swapped in. */
export function openForReading(pathFd: number): number {
  return native.reopen(pathFd, C().O_RDONLY | C().O_NOCTTY);
}

/**
 * The UTF-8 text of the regular file `rel` beneath `rootFd` (resolved inside it, as openInRoot
 * does), or undefined when there is none there (absent, or not a regular file).
 */
export function readTextInRoot(rootFd: number, rel: string): string | undefined {
  let pathFd: number;
  try {
    pathFd = openInRoot(rootFd, rel);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    if (!fstatSync(pathFd).isFile()) return undefined;
    const fd = openForReading(pathFd);
    try {
      return readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } finally {
    closeSync(pathFd);
  }
}

/** Removes one name in `dirFd`, a directory with everything under it, never following a symlink. Absent is fine. */
export function removeChild(dirFd: number, name: string): void {
  try {
    native.unlinkat(dirFd, name, 0);
    return;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return;
    if (code !== 'EISDIR' && code !== 'EPERM') throw err;
  }
  let dir: number;
  try {
    dir = native.openat(dirFd, name, C().O_PATH | C().O_NOFOLLOW | C().O_DIRECTORY, 0);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  try {
    for (const child of native.readdirFd(dir)) removeChild(dir, child);
  } finally {
    closeSync(dir);
  }
  try {
    native.unlinkat(dirFd, name, C().AT_REMOVEDIR);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/** One directory on a walked path: its name (in its parent) and an O_PATH fd. */
interface Frame {
  name: string;
  fd: number;
}

/**
 * A path resolved in a root by walking it one name at a time: each name is opened with
 * O_NOFOLLOW from the directory fd above it; a symlink's target is read and walked in its
 * place (an absolute one from the root), and `..` goes back up our own stack, never above
 * the root. Slower than openat2 but it knows the path it walked (the canonical in-root
 * path) and can create missing directories on the way, as extraction needs.
 */
export class RootWalk {
  /** frames[0] is the root. The first `borrowed` frames belong to someone else and are not closed. */
  private frames: Frame[];
  private borrowed: number;

  private constructor(frames: Frame[], borrowed: number) {
    this.frames = frames;
    this.borrowed = borrowed;
  }

  /** A walk at the root (whose fd stays the caller's). */
  static at(rootFd: number): RootWalk {
    return new RootWalk([{ name: '', fd: rootFd }], 1);
  }

  /** A walk starting where `base` stands, sharing its frames (which `base` keeps owning). */
  static from(base: RootWalk): RootWalk {
    return new RootWalk([...base.frames], base.frames.length);
  }

  /** The fd of where the walk stands (owned by the walk). */
  get fd(): number {
    return this.frames[this.frames.length - 1].fd;
  }

  /** The canonical in-root path of where the walk stands ("/" at the root). */
  get path(): string {
    return '/' + this.frames.slice(1).map((f) => f.name).join('/');
  }

  /**
   * Walks `p` (relative to where the walk stands, or from the root when absolute).
   * Missing directories are created (mode 0755) when `create`; else ENOENT is thrown, with
   * `missing` set to the in-root path the walk would have reached (Docker's link target
   * for a dangling symlink). A final symlink is followed unless `follow` is false.
   */
  walk(p: string, opts: { create?: boolean; follow?: boolean } = {}): void {
    const pending = splitComponents(p);
    if (p.startsWith('/')) this.popTo(1);
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === '.') continue;
      if (name === '..') {
        if (this.frames.length > 1) this.popTo(this.frames.length - 1);
        continue;
      }
      const last = pending.length === 0;
      let child = lstatChild(this.fd, name);
      if (!child && opts.create) {
        try {
          native.mkdirat(this.fd, name, 0o755);
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err;
        }
        child = lstatChild(this.fd, name);
      }
      if (!child) {
        const err = Object.assign(new Error(`ENOENT: no such file or directory, ${path.posix.join(this.path, name, ...pending)}`), {
          code: 'ENOENT',
          missing: path.posix.join(this.path, name, ...pending.filter((n) => n !== '.' && n !== '..')),
        });
        throw err;
      }
      if (child.st.isSymbolicLink() && (!last || opts.follow !== false)) {
        let target: string;
        try {
          target = native.readlinkat(child.fd, '');
        } finally {
          closeSync(child.fd);
        }
        if (++hops > MAX_SYMLINK_HOPS) throw Object.assign(new Error(`ELOOP: too many symbolic links, ${p}`), { code: 'ELOOP' });
        if (target.startsWith('/')) this.popTo(1);
        pending.unshift(...splitComponents(target));
        continue;
      }
      if (!last && !child.st.isDirectory()) {
        closeSync(child.fd);
        throw Object.assign(new Error(`ENOTDIR: not a directory, ${path.posix.join(this.path, name)}`), { code: 'ENOTDIR' });
      }
      this.frames.push({ name, fd: child.fd });
    }
  }

  /** Closes what the walk owns. */
  close(): void {
    this.popTo(this.borrowed);
  }

  /** Drops frames down to `length`, closing the ones the walk owns. */
  private popTo(length: number): void {
    while (this.frames.length > length) {
      const frame = this.frames.pop() as Frame;
      if (this.frames.length >= this.borrowed) closeSync(frame.fd);
      else this.borrowed = this.frames.length; // stepped above a borrowed frame: it stays its owner's
    }
  }
}

function splitComponents(p: string): string[] {
  return p.split('/').filter((part) => part !== '');
}
