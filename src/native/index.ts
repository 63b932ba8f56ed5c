import * as path from 'node:path';
import { nativeBuildDir } from './build-dir';
import type { NativeSyscalls } from './types';

export { MountFlags, UnmountFlags } from './types';
export type { NativeSyscalls, SandboxLink, SealedCopy, SendFileHandle, SpawnReadyResult } from './types';
export { nativeBuildDir } from './build-dir';

/** The addon also exposes its userspace resolver alone, so tests cover the pre-openat2 path. */
export interface NativeAddon extends NativeSyscalls {
  resolveInRootUserspace(root: string, path: string): string;
}

function loadAddon(): NativeAddon {
  const file = path.join(nativeBuildDir(), 'berth_native.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as NativeAddon;
  } catch (err: unknown) {
    throw new Error(`berth native addon not built: run npm install (cannot load ${file})`, { cause: err });
  }
}

/** Loaded on first use, so importing this module never fails by itself. */
let addon: NativeAddon | undefined;
function get(): NativeAddon {
  addon ??= loadAddon();
  return addon;
}

/** Whether the addon as built has the rtnetlink calls (an addon built before them has not: spawn `unshare` and `ip` then). */
export function hasNetlink(): boolean {
  return typeof get().sandboxCreate === 'function';
}

/** Whether the addon as built has copyFiles (the builder's COPY copies file by file otherwise). */
export function hasCopyFiles(): boolean {
  return typeof get().copyFiles === 'function';
}

/** Whether the addon as built has spawnReady (berth-monitor is spawned by child_process otherwise). */
export function hasSpawnReady(): boolean {
  return typeof get().spawnReady === 'function';
}

/** Whether the addon as built has sealedCopy and spawnReady's extra fd (runc runs from its path otherwise). */
export function hasSealedCopy(): boolean {
  return typeof get().sealedCopy === 'function';
}

/** Whether the addon as built has removeTree (fs.rm removes trees otherwise). */
export function hasRemoveTree(): boolean {
  return typeof get().removeTree === 'function';
}

/** Whether the addon as built has sendFile (the registry server copies blobs through buffers otherwise). */
export function hasSendFile(): boolean {
  return typeof get().sendFile === 'function';
}

/** Whether the addon as built has peerCredentials (SO_PEERCRED). */
export function hasPeerCredentials(): boolean {
  return typeof get().peerCredentials === 'function';
}

/** Whether the addon as built has the ingest hashing calls (sha256New…, appendHashed): content ingests hash on this thread otherwise. */
export function hasBlobHash(): boolean {
  return typeof get().appendHashed === 'function';
}

/** Whether the addon as built has sha256UpdateAsync (a diff ID is hashed on the extraction worker's thread otherwise). */
export function hasAsyncHash(): boolean {
  return typeof get().sha256UpdateAsync === 'function';
}

/** The syscalls Node lacks (see types.ts). Errors carry code, errno, syscall and path like Node's fs errors. */
export const native: NativeAddon = {
  mount: (source, target, fstype, flags, data) => get().mount(source, target, fstype, flags, data),
  umount: (target, flags) => get().umount(target, flags),
  sandboxCreate: (file, links) => get().sandboxCreate(file, links),
  linkDelete: (name) => get().linkDelete(name),
  spawnReady: (argv, cwd, timeoutMs, extraFd) => get().spawnReady!(argv, cwd, timeoutMs, extraFd),
  sealedCopy: (file) => get().sealedCopy!(file),
  removeTree: (file) => get().removeTree!(file),
  sendFile: (socketFd, fileFd, offset, length) => get().sendFile!(socketFd, fileFd, offset, length),
  sendFileCancel: (handle) => get().sendFileCancel!(handle),
  mknod: (file, mode, major, minor) => get().mknod(file, mode, major, minor),
  lsetxattr: (file, name, value) => get().lsetxattr(file, name, value),
  lgetxattr: (file, name) => get().lgetxattr(file, name),
  llistxattr: (file) => get().llistxattr(file),
  resolveInRoot: (root, inner) => get().resolveInRoot(root, inner),
  resolveInRootUserspace: (root, inner) => get().resolveInRootUserspace(root, inner),
  openat2: (dirfd, p, flags, mode, resolve) => get().openat2(dirfd, p, flags, mode, resolve),
  openat: (dirfd, name, flags, mode) => get().openat(dirfd, name, flags, mode),
  reopen: (fd, flags) => get().reopen(fd, flags),
  readdirFd: (fd) => get().readdirFd(fd),
  direntTypesKnown: (fd) => get().direntTypesKnown(fd),
  readlinkat: (dirfd, name) => get().readlinkat(dirfd, name),
  mkdirat: (dirfd, name, mode) => get().mkdirat(dirfd, name, mode),
  symlinkat: (target, dirfd, name) => get().symlinkat(target, dirfd, name),
  mknodat: (dirfd, name, mode, major, minor) => get().mknodat(dirfd, name, mode, major, minor),
  linkat: (olddirfd, oldname, newdirfd, newname, flags) => get().linkat(olddirfd, oldname, newdirfd, newname, flags),
  unlinkat: (dirfd, name, flags) => get().unlinkat(dirfd, name, flags),
  fchownat: (dirfd, name, uid, gid, flags) => get().fchownat(dirfd, name, uid, gid, flags),
  fchmodAny: (fd, mode) => get().fchmodAny(fd, mode),
  copyFiles: (src, dst, names, uid, gid, mode, replace) => get().copyFiles!(src, dst, names, uid, gid, mode, replace),
  utimensat: (dirfd, name, seconds, nanoseconds, flags) => get().utimensat(dirfd, name, seconds, nanoseconds, flags),
  fgetxattr: (fd, name) => get().fgetxattr(fd, name),
  fsetxattr: (fd, name, value) => get().fsetxattr(fd, name, value),
  peerCredentials: (fd) => get().peerCredentials!(fd),
  mallocTrim: () => get().mallocTrim?.() ?? false,
  mallocThresholds: (mmapThreshold, trimThreshold) => get().mallocThresholds?.(mmapThreshold, trimThreshold),
  sha256New: () => get().sha256New!(),
  sha256Update: (state, bytes) => get().sha256Update!(state, bytes),
  sha256Hex: (state) => get().sha256Hex!(state),
  appendHashed: (fd, chunks, state) => get().appendHashed!(fd, chunks, state),
  sha256UpdateAsync: (state, chunks) => get().sha256UpdateAsync!(state, chunks),
  get constants() {
    return get().constants;
  },
};
