import { fstatSync, type BigIntStats } from 'node:fs';
import { errnoCode } from '../../errors';
import { native } from '../../native';
import { splitDev } from '../../archive/tar/pack';
import { closeFd, lstatChild } from '../../util/fs-at';
import type { ContextPathFilter } from '../types';
import { includesPath } from './context-sources';
import { FileDigestCache } from './file-digest-cache';
import { entrySum, type TarsumHeader } from './tarsum';

const S_IFMT = 0o170000;
const TYPEFLAG_BY_FORMAT: Record<number, string> = { 0o040000: '5', 0o100000: '0', 0o120000: '2', 0o020000: '3', 0o060000: '4', 0o010000: '6' };

/**
 * The tar headers the docker CLI (28, `DOCKER_BUILDKIT=0 docker build`) sends for a context
 * folder, made from the folder itself, so a local build names COPY's sources in the history
 * by the same tarsums as a build of the CLI's tar: archive.TarWithOptions with ChownOpts 0:0,
 * that is the path relative to the context (a folder's with a trailing `/`), the permission
 * and set-id bits without the file-type bits, uid and gid 0, a regular file's size, a
 * symlink's target, a device's numbers, and a second name of a multiply-linked file as a
 * hard link to the first name the CLI's walk (sorted, depth first) meets. Sockets are not
 * sent. Left out: the security.capability xattr the CLI copies into the header (binary;
 * tarsum's xattr text would need its bytes).
 *
 * A regular file's sum is kept in the daemon's digest cache under its stat key and header,
 * so a file is read once for both COPY's cache key and its history, and a rebuild reads none.
 */
export class LocalTarHeaders {
  /** dev:ino → the first context path of a multiply-linked file (made on first need). */
  private firstNames?: Map<string, string>;
  private readonly now = Date.now();

  constructor(
    private readonly rootFd: number,
    private readonly filter: ContextPathFilter,
    private readonly digests: FileDigestCache,
  ) {}

  /** The header of the context path `key` (tarsum's key), or undefined when the CLI would not send one. */
  get(key: string): TarsumHeader | undefined {
    return this.withEntry(key, (fd, st) => this.header(key, fd, st));
  }

  /** The tarsum of `key`'s entry, or undefined when the CLI would not send one. */
  sumOf(key: string): string | undefined {
    return this.withEntry(key, (fd, st) => this.sum(key, fd, st));
  }

  /** The tarsum of the entry at `key`, given its O_PATH fd (the entry itself, not followed) and fstat. */
  sum(key: string, fd: number, st: BigIntStats): string {
    const h = this.header(key, fd, st);
    if (h === undefined) throw new Error(`${key}: not an entry the docker CLI sends`);
    if (h.typeflag !== '0' || h.size === 0) return entrySum(h, fd, '', '');
    const cacheKey = `${FileDigestCache.key(st)}\0tarsum\0${h.name}\0${h.mode}`;
    const known = this.digests.get(cacheKey);
    if (known !== undefined) return known;
    const sum = entrySum(h, fd, '', '');
    // A file changed within the last seconds may change again without its ctime moving.
    if (Number(st.ctimeMs) < this.now - FileDigestCache.RACY_MS) this.digests.set(cacheKey, sum);
    return sum;
  }

  /** The header for the entry at `key` whose O_PATH fd and fstat are given (undefined: a socket). */
  header(key: string, fd: number, st: BigIntStats): TarsumHeader | undefined {
    const mode = Number(st.mode);
    const type = TYPEFLAG_BY_FORMAT[mode & S_IFMT];
    if (type === undefined) return undefined;
    const isDev = type === '3' || type === '4';
    const dev = isDev ? splitDev(Number(st.rdev)) : { major: 0, minor: 0 };
    const h: TarsumHeader = {
      name: type === '5' ? `${key}/` : key,
      mode: mode & 0o7777,
      uid: 0,
      gid: 0,
      size: type === '0' ? Number(st.size) : 0,
      typeflag: type,
      linkname: type === '2' ? native.readlinkat(fd, '') : '',
      devmajor: dev.major,
      devminor: dev.minor,
      xattrs: [],
    };
    if (type === '0' && st.nlink > 1n) {
      const first = this.firstName(`${st.dev}:${st.ino}`);
      if (first !== undefined && first !== key) Object.assign(h, { typeflag: '1', linkname: first, size: 0 });
    }
    return h;
  }

  private withEntry<T>(key: string, fn: (fd: number, st: BigIntStats) => T | undefined): T | undefined {
    if (key === '.' || key === '' || !includesPath(this.filter, key)) return undefined;
    const C = native.constants;
    let fd: number;
    try {
      // The path itself: no symlink on the way (the CLI's tar has no entry beneath one), the last one not followed.
      fd = native.openat2(this.rootFd, key, C.O_PATH | C.O_NOFOLLOW, 0, C.RESOLVE_BENEATH | C.RESOLVE_NO_SYMLINKS);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV') return undefined;
      throw err;
    }
    try {
      return fn(fd, fstatSync(fd, { bigint: true }));
    } finally {
      closeFd(fd);
    }
  }

  private firstName(inode: string): string | undefined {
    if (!this.firstNames) {
      this.firstNames = new Map();
      this.walk(this.rootFd, '');
    }
    return this.firstNames.get(inode);
  }

  /** filepath.Walk's order: each folder's names sorted, a folder's content right after it. */
  private walk(dirFd: number, prefix: string): void {
    for (const name of native.readdirFd(dirFd).sort()) {
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      if (!this.filter.includes(rel)) continue;
      const child = lstatChild(dirFd, name);
      if (!child) continue;
      try {
        if (child.st.isFile() && child.st.nlink > 1) {
          const inode = `${child.st.dev}:${child.st.ino}`;
          if (!this.firstNames!.has(inode)) this.firstNames!.set(inode, rel);
        } else if (child.st.isDirectory()) this.walk(child.fd, rel);
      } finally {
        closeFd(child.fd);
      }
    }
  }
}
