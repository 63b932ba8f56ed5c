import { copyFileSync, fstatSync, type BigIntStats } from 'node:fs';
import { hasCopyFiles, native } from '../../native';
import { errnoCode } from '../../errors';
import { closeFd, lstatChild, openChild, openForReading, removeChild } from '../../util/fs-at';
import type { ContextPathFilter } from '../types';

const C = () => native.constants;

/** Who owns what COPY writes, and its mode: --chown (default 0:0) and --chmod (default: the source's). */
export interface CopyAttributes {
  uid: number;
  gid: number;
  mode?: number;
}

/** A local context's .dockerignore while copying out of it: `real` is where `src` is, relative to the context. */
export interface CopyScope {
  filter: ContextPathFilter;
  real: string;
}

/**
 * Copies one entry (the O_PATH fd `src`) to `name` in the directory fd `dstDir`, as COPY
 * does: a directory's content is merged into an existing directory, anything else replaces
 * what is there; symlinks are copied as symlinks, never followed; owner and mode from
 * `attrs`, mtimes from the source. Both sides are reached only on fds (O_NOFOLLOW, *at calls).
 */
export function copyEntry(src: number, dstDir: number, name: string, attrs: CopyAttributes, scope?: CopyScope): void {
  const st = fstatSync(src, { bigint: true });
  if (st.isDirectory()) {
    const existing = lstatChild(dstDir, name);
    if (existing && !existing.st.isDirectory()) {
      closeFd(existing.fd);
      removeChild(dstDir, name);
    } else if (existing) closeFd(existing.fd);
    const fresh = !existing || !existing.st.isDirectory();
    if (fresh) native.mkdirat(dstDir, name, 0o700);
    const made = openChild(dstDir, name);
    try {
      copyChildren(src, made, attrs, scope, fresh);
      setMetadata(made, st, attrs);
    } finally {
      closeFd(made);
    }
    return;
  }
  replaceNonDirectory(dstDir, name);
  if (st.isFile()) {
    const input = openForReading(src);
    try {
      const output = native.openat(dstDir, name, C().O_WRONLY | C().O_CREAT | C().O_EXCL | C().O_NOFOLLOW, 0o600);
      try {
        // The kernel copies (copy_file_range) between our two fds; /proc/self/fd names them, no path inside the tree is used.
        copyFileSync(`/proc/self/fd/${input}`, `/proc/self/fd/${output}`);
        setMetadata(output, st, attrs);
      } finally {
        closeFd(output);
      }
    } finally {
      closeFd(input);
    }
  } else if (st.isSymbolicLink()) {
    native.symlinkat(native.readlinkat(src, ''), dstDir, name);
    native.fchownat(dstDir, name, attrs.uid, attrs.gid, C().AT_SYMLINK_NOFOLLOW);
    native.utimensat(dstDir, name, Number(st.mtimeNs / 1_000_000_000n), Number(st.mtimeNs % 1_000_000_000n), C().AT_SYMLINK_NOFOLLOW);
  } else if (st.isFIFO()) {
    native.mknodat(dstDir, name, 0o010000 | 0o600, 0, 0);
    const made = openChild(dstDir, name);
    try {
      setMetadata(made, st, attrs);
    } finally {
      closeFd(made);
    }
  }
  // Sockets and devices in a build context are not copied (a client's tar cannot carry sockets either).
}

/**
 * Copies what is in the directory fd `srcDir` into the directory fd `dstDir` (COPY of a
 * directory: its content, not itself). Into a directory just made (`fresh`: nothing to
 * replace), the regular files go in one native call, the rest one by one.
 */
export function copyChildren(srcDir: number, dstDir: number, attrs: CopyAttributes, scope?: CopyScope, fresh = false): void {
  const childScope = (name: string): CopyScope | undefined => scope && { filter: scope.filter, real: scope.real === '' ? name : `${scope.real}/${name}` };
  let names = native.readdirFd(srcDir).sort();
  if (scope) names = names.filter((name) => scope.filter.includes(childScope(name)!.real));
  if (fresh && hasCopyFiles()) names = native.copyFiles!(srcDir, dstDir, names, attrs.uid, attrs.gid, attrs.mode ?? -1, false);
  for (const name of names) {
    const child = lstatChild(srcDir, name);
    if (!child) continue;
    try {
      copyEntry(child.fd, dstDir, name, attrs, childScope(name));
    } finally {
      closeFd(child.fd);
    }
  }
}

/** Removes a non-directory at `name` (a file COPY replaces); a directory there stays (it is merged into or refused by the caller). */
function replaceNonDirectory(dir: number, name: string): void {
  const existing = lstatChild(dir, name);
  if (!existing) return;
  closeFd(existing.fd);
  if (existing.st.isDirectory()) {
    throw Object.assign(new Error(`cannot replace directory ${name} with a non-directory`), { code: 'EISDIR' });
  }
  try {
    native.unlinkat(dir, name, 0);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/** Owner, then mode (chown clears set-id bits), then mtime. */
export function setMetadata(fd: number, st: BigIntStats, attrs: CopyAttributes): void {
  native.fchownat(fd, '', attrs.uid, attrs.gid, C().AT_EMPTY_PATH);
  native.fchmodAny(fd, attrs.mode ?? Number(st.mode) & 0o7777);
  native.utimensat(fd, '', Number(st.mtimeNs / 1_000_000_000n), Number(st.mtimeNs % 1_000_000_000n), C().AT_EMPTY_PATH);
}
