/**
 * The few syscalls Node lacks, from one N-API addon (native/addon) built by node-gyp.
 * Every function is synchronous (but the two rtnetlink ones, which return promises) and throws an Error with `code` set to the errno name
 * (ENOENT, EPERM, ...) and `syscall` set, like Node's own fs errors.
 */
export interface NativeSyscalls {
  /** mount(2). `data` is the fs-specific option string (e.g. overlay's lowerdir=...). */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2). */
  umount(target: string, flags: number): void;
  /**
   * A network namespace bind-mounted on `file` (an existing empty file) with loopback up and a
   * veth pair per link (the container end addressed and up inside, the peer on its bridge in
   * this process's namespace), by rtnetlink from a thread of its own, off the JS thread: what
   * `unshare --net=<file>` + `ip -batch` did, without a process. On failure the mount may stay
   * (the caller unmounts the file).
   */
  sandboxCreate(file: string, links: readonly SandboxLink[]): Promise<void>;
  /** rtnetlink in this process's namespace: `ip link del dev <name>`, off the JS thread; false when there is no such device. */
  linkDelete(name: string): Promise<boolean>;
  /**
   * Starts a program that detaches (berth-monitor) by posix_spawn on a pool thread, not by
   * forking the daemon on the JS thread: stdin/stdout /dev/null, stderr and fd 3 on pipes,
   * read until both close (or `timeoutMs` passes: the child is SIGKILLed), the direct child
   * reaped. `argv[0]` is an absolute path; `cwd` null keeps the daemon's. `extraFd` (>= 10)
   * becomes the child's fd 4. Rejects when the spawn itself fails (ENOENT, EACCES, ...).
   * Absent from an addon built before it.
   */
  spawnReady?(argv: readonly string[], cwd: string | null, timeoutMs: number, extraFd?: number): Promise<SpawnReadyResult>;
  /**
   * A sealed memfd copy (F_SEAL_SEAL|SHRINK|GROW|WRITE, close-on-exec, fd >= 10) of the ELF
   * executable at `path`, which must be a regular file owned by root and not writable by group
   * or others, unchanged while it is copied; made off the JS thread. With the source's stat as
   * copied (dev, ino and times as decimal strings). berth-monitor execs runc from it
   * (`--runtime-fd`), so runc 1.1's `runc init` need not re-exec itself from a bind mount or a
   * copy (CVE-2019-5736). Absent from an addon built before it.
   */
  sealedCopy?(path: string): Promise<SealedCopy>;
  /**
   * `rm -rf path` in one thread-pool call: a depth-first walk that never follows a symlink and
   * never enters another file system mounted inside; a missing path is success. Rejects with
   * the first failure (the rest is removed anyway). Absent from an addon built before it.
   */
  removeTree?(path: string): Promise<void>;
  /**
   * Sends `length` bytes of the regular file `fileFd` from `offset` to the connected,
   * non-blocking socket `socketFd` (pread/send in cache-sized chunks, not sendfile(2): see
   * native/addon/send_file.c), on a thread of its own that waits while the socket is full
   * (both fds are dup'ed: the caller may close its own). Returns the promise of the bytes sent
   * (rejects with the errno code: EPIPE/ECONNRESET when the peer left, ECANCELED, ENODATA when
   * the file is shorter) and a handle for sendFileCancel. Absent from an addon built before it.
   */
  sendFile?(socketFd: number, fileFd: number, offset: number, length: number): [Promise<number>, SendFileHandle];
  /** Stops a sendFile (its promise rejects with ECANCELED); nothing once it has ended. */
  sendFileCancel?(handle: SendFileHandle): void;
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

  // ---- file descriptors: how anything inside a container root is reached ----
  // Every fd returned is O_CLOEXEC. Close them with fs.closeSync; Node's fstat, fchown,
  // fchmod, futimes, read and write work on them (except fchmod/futimes on O_PATH fds).

  /** openat2(2) with `resolve` (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, ...); EAGAIN is retried. */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** openat(2): one name relative to a directory fd (pass O_NOFOLLOW to never follow it). */
  openat(dirfd: number, name: string, flags: number, mode: number): number;
  /** Opens the inode `fd` holds (e.g. an O_PATH fd) anew with `flags`, with no name lookup. */
  reopen(fd: number, flags: number): number;
  /** The names in the directory `fd` holds, without `.` and `..`, unsorted. */
  readdirFd(fd: number): string[];
  /** False when the directory's file system leaves d_type DT_UNKNOWN (overlay needs it). */
  direntTypesKnown(fd: number): boolean;
  /** readlinkat(2); name '' reads the symlink an O_PATH|O_NOFOLLOW fd holds. */
  readlinkat(dirfd: number, name: string): string;
  mkdirat(dirfd: number, name: string, mode: number): void;
  symlinkat(target: string, dirfd: number, name: string): void;
  mknodat(dirfd: number, name: string, mode: number, major: number, minor: number): void;
  /** linkat(2); without AT_SYMLINK_FOLLOW a symlink source is linked itself. */
  linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags: number): void;
  unlinkat(dirfd: number, name: string, flags: number): void;
  /** fchownat(2); AT_EMPTY_PATH with name '' changes the inode an O_PATH fd holds. */
  fchownat(dirfd: number, name: string, uid: number, gid: number, flags: number): void;
  /** chmod of the inode any fd holds, O_PATH included. Never for a symlink's fd. */
  fchmodAny(fd: number, mode: number): void;
  /**
   * COPY of the regular files among `names` in the directory fd `srcDirFd` into `dstDirFd`
   * (owner uid:gid, `mode` or the source's when < 0, the source's mtime), each opened
   * O_NOFOLLOW and checked to be the inode lstat'ed; returns the names that are not regular
   * files. Absent from an addon built before it.
   */
  copyFiles?(srcDirFd: number, dstDirFd: number, names: string[], uid: number, gid: number, mode: number, replace: boolean): string[];
  /** utimensat(2), atime and mtime both set to seconds + nanoseconds. */
  utimensat(dirfd: number, name: string, seconds: number, nanoseconds: number, flags: number): void;
  /** The xattr of the inode any fd holds; undefined when absent (ENODATA). */
  fgetxattr(fd: number, name: string): Buffer | undefined;
  /** getsockopt(SO_PEERCRED) of a connected unix socket: who is at the other end (absent in an addon built before it). */
  peerCredentials?(fd: number): { pid: number; uid: number; gid: number };
  fsetxattr(fd: number, name: string, value: Buffer): void;
  /** malloc_trim(0): the heap's free pages back to the kernel; whether any were (absent in an addon built before it). */
  mallocTrim?(): boolean;
  /** mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, in bytes (absent in an addon built before it). */
  mallocThresholds?(mmapThreshold: number, trimThreshold: number): void;
  /** A fresh SHA-256 state (OpenSSL's SHA256_CTX in a Buffer: copyable). Absent, with the three below, from an addon built before it. */
  sha256New?(): Buffer;
  sha256Update?(state: Buffer, bytes: Uint8Array): void;
  /** The hex digest of what `state` has seen; the state goes on. */
  sha256Hex?(state: Buffer): string;
  /** Writes `chunks` at `fd`'s position, then adds them to `state`, on the thread pool; resolves with the byte count. A failed write adds nothing. */
  appendHashed?(fd: number, chunks: Uint8Array[], state: Buffer): Promise<number>;
  /** Adds `chunks` to `state` on the thread pool; resolves with their byte count. One state's updates must be chained (absent from an addon built before it). */
  sha256UpdateAsync?(state: Buffer, chunks: Uint8Array[]): Promise<number>;
  /** open(2)/at(2) flag values of this architecture, from libc. */
  readonly constants: NativeConstants;
}

export interface NativeConstants {
  O_RDONLY: number;
  O_WRONLY: number;
  O_RDWR: number;
  O_CREAT: number;
  O_EXCL: number;
  O_NOFOLLOW: number;
  O_DIRECTORY: number;
  O_PATH: number;
  O_NONBLOCK: number;
  O_NOCTTY: number;
  AT_FDCWD: number;
  AT_SYMLINK_NOFOLLOW: number;
  AT_REMOVEDIR: number;
  AT_EMPTY_PATH: number;
  RESOLVE_IN_ROOT: number;
  RESOLVE_NO_MAGICLINKS: number;
  RESOLVE_NO_SYMLINKS: number;
  RESOLVE_BENEATH: number;
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
  /** Do not follow a symlink at the target (it is then no mount point: EINVAL). */
  UMOUNT_NOFOLLOW: 0x8,
} as const;

/** sealedCopy's memfd and the stat of the file it copied. */
export interface SealedCopy {
  fd: number;
  dev: string;
  ino: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
}

/** What spawnReady's child wrote to fd 3 (sync) and stderr before it closed them. */
export interface SpawnReadyResult {
  sync: string;
  stderr: string;
  timedOut: boolean;
}

/** One veth pair of sandboxCreate. */
export interface SandboxLink {
  /** The container end's name inside the namespace (eth0). */
  ifname: string;
  /** The host end's name, in the daemon's namespace. */
  peer: string;
  /** The bridge the host end goes onto. */
  master: string;
  mac: string;
  /** 0: the kernel's default. */
  mtu: number;
  address: string;
  prefixLen: number;
  /** The default route's gateway, through this link; none when absent. */
  gateway?: string;
}

/** A running sendFile, for sendFileCancel (opaque). */
export type SendFileHandle = { readonly __sendFile: unique symbol };
