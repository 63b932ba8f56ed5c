import { createHash } from 'node:crypto';
import { fstatSync, read, readSync, Stats } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { native } from '../../native';
import { errnoCode } from '../../errors';
import { closeFd, lstatChild, openForReading, openHostDir, openHostPath } from '../../util/fs-at';
import { encodeHeader, END_OF_ARCHIVE, PackHeader, padding } from './header';
import { XATTR_PAX_PREFIX } from './pax';
import { OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from './whiteout';

export interface PackOptions {
  /** Convert overlay whiteouts (char 0/0, opaque xattr) to `.wh.` entries (layer diffs). */
  whiteouts?: 'overlay-to-wh';
  /** Called with each path relative to `dir`; false skips it (and, for a directory, its contents). */
  include?: (relPath: string) => boolean;
  /**
   * Include `dir` itself as the first entry under this name (it may then be a file or a
   * symlink too), its contents as `<rebaseName>/...`. Without it only the contents are
   * packed, named relative to `dir`.
   */
  rebaseName?: string;
}

/** The one xattr kept in tars: file capabilities (ping, etc.). Others are host- or fs-specific. */
const KEPT_XATTR = 'security.capability';
const READ_CHUNK = 256 * 1024;

/**
 * A deterministic tar of a directory tree: entries sorted by name, whole-second mtimes,
 * no user/group names, hardlinks detected by inode, devices and fifos, sockets skipped.
 * `dir` itself is a trusted host path; everything under it is reached on fds (packFd).
 */
export function packDirectory(dir: string, opts: PackOptions = {}): Readable {
  return Readable.from(packLazily(() => (opts.rebaseName !== undefined ? openHostPath(dir) : openHostDir(dir)), opts), { objectMode: false });
}

/**
 * The same tar of the tree an O_PATH fd holds (a directory; with rebaseName, anything),
 * walked on fds only: each name is opened O_PATH|O_NOFOLLOW from its directory's fd and
 * fstat'ed, a regular file is read by reopening that very inode, a symlink is read with
 * readlinkat, never followed. A tree that a running container changes meanwhile can make
 * the tar miss or keep a name, but never read anything outside the tree. Takes ownership
 * of `fd` (closed when the stream ends or is destroyed).
 */
export function packFd(fd: number, opts: PackOptions = {}): Readable {
  let owned = true;
  const stream = Readable.from(
    packLazily(() => {
      owned = false; // the generator closes it from now on
      return fd;
    }, opts),
    { objectMode: false },
  );
  // Destroyed before the first read: the generator never ran, so close the fd here.
  stream.once('close', () => {
    if (owned) closeFd(fd);
    owned = false;
  });
  return stream;
}

async function* packLazily(open: () => number, opts: PackOptions): AsyncGenerator<Buffer> {
  const fd = open();
  try {
    for (const part of new Packer(opts).pack(fd)) {
      if (Buffer.isBuffer(part)) yield part;
      else yield* readExactly(part.fd, part.size);
    }
  } finally {
    closeFd(fd);
  }
}

/**
 * The sha256 and length of the tar packDirectory gives for `dir` (a layer's diff ID),
 * computed without a stream: the walk and the reads are synchronous (no thread-pool round
 * trip per file, which dominated for trees of many small files), in slices between which
 * the event loop runs.
 */
export async function digestDirectory(dir: string, opts: PackOptions = {}): Promise<{ digest: `sha256:${string}`; size: number }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  let size = 0;
  let sinceYield = 0;
  const fd = opts.rebaseName !== undefined ? openHostPath(dir) : openHostDir(dir);
  try {
    for (const part of new Packer(opts).pack(fd)) {
      if (Buffer.isBuffer(part)) {
        hash.update(part);
        size += part.length;
        sinceYield += part.length;
      } else {
        for (const chunk of readExactlySync(part.fd, part.size, buffer)) hash.update(chunk);
        size += part.size;
        sinceYield += part.size + 512;
      }
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
  } finally {
    closeFd(fd);
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** How much digestDirectory hashes between two turns of the event loop. */
const YIELD_EVERY = 8 * 1024 * 1024;

/** A regular file's content to put in the tar: `size` bytes read from `fd` (closed by the packer once the next part is asked for). */
interface FileBody {
  fd: number;
  size: number;
}

class Packer {
  /** First tar name seen for each multiply-linked inode. */
  private readonly links = new Map<string, string>();

  constructor(private readonly opts: PackOptions) {}

  *pack(top: number): Generator<Buffer | FileBody> {
    if (this.opts.rebaseName !== undefined) {
      const st = fstatSync(top);
      yield* this.entry(top, this.opts.rebaseName, st);
      if (st.isDirectory()) yield* this.walk(top, this.opts.rebaseName, '');
    } else {
      yield* this.walk(top, '', '');
    }
    yield END_OF_ARCHIVE;
  }

  private *walk(dirFd: number, tarDir: string, relDir: string): Generator<Buffer | FileBody> {
    const names = native.readdirFd(dirFd).sort();
    for (const name of names) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (this.opts.include && !this.opts.include(rel)) continue;
      const child = lstatChild(dirFd, name);
      if (!child) continue; // removed while we walked a live tree
      try {
        const tarName = tarDir === '' ? name : `${tarDir}/${name}`;
        yield* this.entry(child.fd, tarName, child.st);
        if (child.st.isDirectory()) yield* this.walk(child.fd, tarName, rel);
      } finally {
        closeFd(child.fd);
      }
    }
  }

  /** One entry for the inode `fd` (O_PATH) holds, whose fstat is `st`. */
  private *entry(fd: number, tarName: string, st: Stats): Generator<Buffer | FileBody> {
    const common = { name: tarName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: Math.floor(st.mtimeMs / 1000) };
    const wh = this.opts.whiteouts === 'overlay-to-wh';
    if (st.isDirectory()) {
      yield encodeHeader({ ...common, type: 'directory' });
      if (wh && isOpaque(fd)) {
        yield encodeHeader({ ...common, name: `${tarName}/${OPAQUE_WHITEOUT}`, type: 'file', mode: st.mode & 0o777 });
      }
    } else if (st.isFile()) {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.links.get(key);
        if (first !== undefined) {
          yield encodeHeader({ ...common, type: 'link', linkname: first });
          return;
        }
        this.links.set(key, tarName);
      }
      const readable = openForReading(fd);
      try {
        const header: PackHeader = { ...common, type: 'file', size: st.size };
        const cap = fileCapability(readable);
        if (cap) header.pax = [[XATTR_PAX_PREFIX + KEPT_XATTR, cap]];
        yield encodeHeader(header);
        yield { fd: readable, size: st.size };
        yield padding(st.size);
      } finally {
        closeFd(readable);
      }
    } else if (st.isSymbolicLink()) {
      yield encodeHeader({ ...common, type: 'symlink', linkname: native.readlinkat(fd, '') });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = splitDev(st.rdev);
      if (wh && st.isCharacterDevice() && major === 0 && minor === 0) {
        const slash = tarName.lastIndexOf('/');
        const name = `${tarName.slice(0, slash + 1)}${WHITEOUT_PREFIX}${tarName.slice(slash + 1)}`;
        yield encodeHeader({ ...common, name, type: 'file', mode: 0o600 });
        return;
      }
      yield encodeHeader({ ...common, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major, devminor: minor });
    } else if (st.isFIFO()) {
      yield encodeHeader({ ...common, type: 'fifo' });
    }
    // Sockets are not archived (as Docker).
  }
}

/** Linux's makedev encoding (glibc's gnu_dev_major/minor). */
export function splitDev(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

function isOpaque(dirFd: number): boolean {
  const value = native.fgetxattr(dirFd, OVERLAY_OPAQUE_XATTR);
  return value !== undefined && value.length === 1 && value[0] === 0x79; // 'y'
}

function fileCapability(fd: number): Buffer | undefined {
  try {
    return native.fgetxattr(fd, KEPT_XATTR);
  } catch (err) {
    if (errnoCode(err) === 'ENOTSUP' || errnoCode(err) === 'EOPNOTSUPP') return undefined;
    throw err;
  }
}

const readAt = promisify(read);

/** readExactly, synchronously, into `buffer` (each chunk is valid until the next is asked for). */
function* readExactlySync(fd: number, size: number, buffer: Buffer): Generator<Buffer> {
  let done = 0;
  while (done < size) {
    const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, size - done), done);
    if (bytesRead === 0) {
      yield Buffer.alloc(size - done);
      return;
    }
    done += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * Exactly `size` bytes of a file, as its header promised: a file that grew is cut, one
 * that shrank (a live tree) is padded with zeros, so the archive stays well-formed.
 */
async function* readExactly(fd: number, size: number): AsyncGenerator<Buffer> {
  let done = 0;
  while (done < size) {
    const chunk = Buffer.alloc(Math.min(READ_CHUNK, size - done));
    const { bytesRead } = await readAt(fd, chunk, 0, chunk.length, done);
    if (bytesRead === 0) {
      yield Buffer.alloc(size - done);
      return;
    }
    done += bytesRead;
    yield bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
  }
}
