/**
 * The few syscalls Node lacks, from one N-API addon (native/addon) built by node-gyp.
 * Every function is synchronous and throws an Error with `code` set to the errno name
 * (ENOENT, EPERM, ...) and `syscall` set, like Node's own fs errors.
 */
export interface NativeSyscalls {
  /** mount(2). `data` is the fs-specific option string (e.g. overlay's lowerdir=...). */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2). */
  umount(target: string, flags: number): void;
  /** mknod(2); `dev` = makedev(major, minor). Used for overlay whiteouts (char 0/0) and device files in layers. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2): never follows a final symlink. */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** lgetxattr(2): undefined when the attribute is absent (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | undefined;
  /** llistxattr(2). */
  llistxattr(path: string): string[];
  /**
   * Resolves `path` inside `root` as if `root` were `/` (openat2 RESOLVE_IN_ROOT, falling
   * back to a userspace walk where openat2 is missing): `..` and symlinks, absolute or
   * relative, can never leave `root`. Returns the host path of the result. When the final
   * component does not exist, its parent is resolved and the final name joined to it.
   */
  resolveInRoot(root: string, path: string): string;
}

/** mount(2) flags used by berth. */
export const MountFlags = {
  MS_RDONLY: 0x1,
  MS_NOSUID: 0x2,
  MS_NODEV: 0x4,
  MS_NOEXEC: 0x8,
  MS_REMOUNT: 0x20,
  MS_BIND: 0x1000,
  MS_REC: 0x4000,
  MS_PRIVATE: 0x40000,
} as const;

/** umount2(2) flags. */
export const UnmountFlags = {
  MNT_FORCE: 0x1,
  MNT_DETACH: 0x2,
} as const;
