import { promises as fs, Stats } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { native } from '../../native';
import { errnoCode } from '../../errors';
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
 */
export function packDirectory(dir: string, opts: PackOptions = {}): Readable {
  return Readable.from(new Packer(opts).pack(dir), { objectMode: false });
}

class Packer {
  /** First tar name seen for each multiply-linked inode. */
  private readonly links = new Map<string, string>();

  constructor(private readonly opts: PackOptions) {}

  async *pack(dir: string): AsyncGenerator<Buffer> {
    if (this.opts.rebaseName !== undefined) {
      const st = await fs.lstat(dir);
      yield* this.entry(dir, this.opts.rebaseName, st);
      if (st.isDirectory()) yield* this.walk(dir, this.opts.rebaseName, '');
    } else {
      yield* this.walk(dir, '', '');
    }
    yield END_OF_ARCHIVE;
  }

  private async *walk(hostDir: string, tarDir: string, relDir: string): AsyncGenerator<Buffer> {
    const names = (await fs.readdir(hostDir)).sort();
    for (const name of names) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (this.opts.include && !this.opts.include(rel)) continue;
      const host = path.join(hostDir, name);
      let st: Stats;
      try {
        st = await fs.lstat(host);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue; // removed while we walked a live tree
        throw err;
      }
      const tarName = tarDir === '' ? name : `${tarDir}/${name}`;
      yield* this.entry(host, tarName, st);
      if (st.isDirectory()) yield* this.walk(host, tarName, rel);
    }
  }

  private async *entry(host: string, tarName: string, st: Stats): AsyncGenerator<Buffer> {
    const common = { name: tarName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: Math.floor(st.mtimeMs / 1000) };
    const wh = this.opts.whiteouts === 'overlay-to-wh';
    if (st.isDirectory()) {
      yield encodeHeader({ ...common, type: 'directory' });
      if (wh && isOpaque(host)) {
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
      const header: PackHeader = { ...common, type: 'file', size: st.size };
      const cap = fileCapability(host);
      if (cap) header.pax = [[XATTR_PAX_PREFIX + KEPT_XATTR, cap]];
      yield encodeHeader(header);
      yield* readExactly(host, st.size);
      yield padding(st.size);
    } else if (st.isSymbolicLink()) {
      yield encodeHeader({ ...common, type: 'symlink', linkname: await fs.readlink(host) });
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

function isOpaque(dir: string): boolean {
  const value = native.lgetxattr(dir, OVERLAY_OPAQUE_XATTR);
  return value !== undefined && value.length === 1 && value[0] === 0x79; // 'y'
}

function fileCapability(file: string): Buffer | undefined {
  try {
    return native.lgetxattr(file, KEPT_XATTR);
  } catch (err) {
    if (errnoCode(err) === 'ENOTSUP' || errnoCode(err) === 'EOPNOTSUPP') return undefined;
    throw err;
  }
}

/**
 * Exactly `size` bytes of a file, as its header promised: a file that grew is cut, one
 * that shrank (a live tree) is padded with zeros, so the archive stays well-formed.
 */
async function* readExactly(file: string, size: number): AsyncGenerator<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    let done = 0;
    while (done < size) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK, size - done));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, done);
      if (bytesRead === 0) {
        yield Buffer.alloc(size - done);
        return;
      }
      done += bytesRead;
      yield bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
