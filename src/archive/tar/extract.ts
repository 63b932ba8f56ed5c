import { fstatSync, write } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { native } from '../../native';
import { conflict, errnoCode, invalidArgument } from '../../errors';
import { closeFd, lstatChild, openBeneath, openChild, openHostDir, removeChild, RootWalk } from '../../util/fs-at';
import { cleanEntryName, splitEntryName, symlinkLeaves } from './entry-name';
import { xattrsFromPax } from './pax';
import { OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX } from './whiteout';

/**
 * What to do with `.wh.` entries:
 * - 'overlay': store them in overlay form (layer store): `.wh.x` → char 0/0 device `x`,
 *   `.wh..wh..opq` → trusted.overlay.opaque=y on the directory;
 * - 'apply': the tar is applied onto a live tree, so a whiteout deletes its path;
 * - 'none': whiteout names are refused;
 * - 'literal': they are ordinary names (docker cp extracts `.wh.x` as a file named so).
 */
export type WhiteoutMode = 'overlay' | 'apply' | 'none' | 'literal';

export interface ExtractOptions {
  whiteouts: WhiteoutMode;
  /**
   * The root that nothing may leave (default: dest). Parents are resolved in it as if it
   * were `/`, so a symlink inside it (e.g. a container's /usr/lib → /lib) is followed
   * within it. `dest` must lie inside `root`.
   */
  root?: string;
  /** Refuse to replace a directory by a non-directory or the reverse (docker cp). */
  noOverwriteDirNonDir?: boolean;
  /** Owner for every entry instead of the tar's uid/gid. */
  chownTo?: { uid: number; gid: number };
  /** Refuse symlinks whose target leaves dest (absolute, or `..` climbing above it): build contexts. */
  confineSymlinks?: boolean;
  /** Sees each entry's header before it is extracted (a build context's tarsum headers). */
  onEntry?: (header: tarStream.Header) => void;
}

type EntryHeader = tarStream.Header;
/** An entry's body as tar-stream hands it over (a streamx Readable). */
type EntryBody = AsyncIterable<Uint8Array> & { resume(): unknown };

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const C = () => native.constants;
const writeAt = promisify(write);

/**
 * Extracts a tar stream into the host directory `dest` (inside `opts.root`, default dest;
 * both trusted paths, dest created when missing). Everything below is done on fds: see
 * extractAt.
 */
export async function extractLayer(tar: Readable, dest: string, opts: ExtractOptions): Promise<{ size: number }> {
  const root = opts.root ?? dest;
  const rel = path.relative(root, dest);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw invalidArgument(`extraction target ${dest} is outside ${root}`);
  const rootFd = openHostDir(root);
  const at = RootWalk.at(rootFd);
  try {
    at.walk(rel, { create: true });
    return await extractAt(tar, at, opts);
  } catch (err) {
    tar.destroy();
    throw err;
  } finally {
    at.close();
    closeFd(rootFd);
  }
}

/**
 * Extracts a tar stream into the directory a RootWalk stands on, safely: every name is
 * cleaned, `..` above dest is refused, absolute names are confined. Nothing is reached
 * through a path string: an entry's parent is opened beneath dest's fd (openat2
 * RESOLVE_BENEATH), or walked name by name with O_NOFOLLOW from it when a symlink leads
 * elsewhere in the root (followed as inside the root, never out); the entry is then made
 * with mkdirat/openat(O_EXCL|O_NOFOLLOW)/symlinkat/mknodat/linkat in that directory fd and
 * its metadata set on an fd of what was made (fchown/fchmod/futimens/fsetxattr). A
 * container swapping a directory for a symlink meanwhile can only make an entry fail.
 * Hardlink sources must resolve inside the root; symlink targets are stored as-is.
 * Preserves mode, owner, mtime, PAX xattrs, devices and fifos. Returns the bytes of
 * regular files written.
 */
export async function extractAt(tar: Readable, dest: RootWalk, opts: Omit<ExtractOptions, 'root'>): Promise<{ size: number }> {
  const extractor = new TarExtractor(dest, opts);
  const parser = tarStream.extract();
  const piping = pipeline(tar, parser as unknown as NodeJS.WritableStream);
  piping.catch(() => undefined); // surfaced through the iterator below
  try {
    for await (const entry of parser) {
      opts.onEntry?.(entry.header);
      await extractor.entry(entry.header, entry as unknown as EntryBody);
    }
    await piping;
  } catch (err) {
    tar.destroy();
    parser.destroy();
    throw err;
  }
  extractor.finish();
  return { size: extractor.size };
}

/** An O_PATH directory fd and how to let it go. */
interface DirHandle {
  fd: number;
  close(): void;
}

class TarExtractor {
  size = 0;
  /** Directory mtimes are set last: creating their children changes them. */
  private readonly dirTimes: Array<[string, Date]> = [];
  /** Paths written by this tar, which an opaque whiteout in 'apply' mode must keep. */
  private readonly written = new Set<string>();

  constructor(
    private readonly dest: RootWalk,
    private readonly opts: Omit<ExtractOptions, 'root'>,
  ) {}

  async entry(header: EntryHeader, body: EntryBody): Promise<void> {
    const rel = cleanEntryName(header.name);
    if (rel === '') {
      body.resume(); // the root itself ("./"): its metadata belongs to the destination
      return;
    }
    const { parent, base } = splitEntryName(rel);
    if (base.startsWith(WHITEOUT_PREFIX) && this.opts.whiteouts !== 'literal') {
      body.resume();
      this.whiteout(rel, parent, base, header.mtime ?? new Date(0));
      return;
    }
    let dir: DirHandle;
    try {
      dir = this.openDir(parent, true);
    } catch (err) {
      body.resume();
      throw err;
    }
    try {
      this.written.add(rel);
      if (header.type === 'directory') {
        body.resume();
        this.directory(dir.fd, base, rel, header);
        return;
      }
      try {
        this.replaceExisting(dir.fd, base, rel);
      } catch (err) {
        body.resume();
        throw err;
      }
      switch (header.type) {
        case 'file':
        case 'contiguous-file':
          await this.file(dir.fd, base, header, body);
          this.size += header.size;
          return;
        case 'symlink':
          body.resume();
          if (this.opts.confineSymlinks && symlinkLeaves(rel, header.linkname ?? '')) {
            throw invalidArgument(`tar entry ${JSON.stringify(header.name)}: symlink target ${JSON.stringify(header.linkname ?? '')} points outside the destination`);
          }
          native.symlinkat(header.linkname ?? '', dir.fd, base);
          break;
        case 'link':
          body.resume();
          this.hardlink(dir.fd, base, header.linkname ?? '', header.name);
          return; // shares the source's inode and metadata
        case 'character-device':
        case 'block-device':
          body.resume();
          native.mknodat(dir.fd, base, (header.type === 'character-device' ? S_IFCHR : S_IFBLK) | ((header.mode ?? 0o600) & 0o7777), header.devmajor ?? 0, header.devminor ?? 0);
          break;
        case 'fifo':
          body.resume();
          native.mknodat(dir.fd, base, S_IFIFO | ((header.mode ?? 0o600) & 0o7777), 0, 0);
          break;
        default:
          body.resume();
          throw invalidArgument(`tar entry ${JSON.stringify(header.name)} has an unsupported type ${String(header.type as unknown)}`);
      }
      this.metadataOfChild(dir.fd, base, rel, header);
    } finally {
      dir.close();
    }
  }

  /** Directory mtimes, deepest first; a directory a later whiteout removed is skipped. */
  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [rel, mtime] = this.dirTimes[i];
      let fd: number;
      try {
        fd = this.openExistingDir(rel);
      } catch (err) {
        if (isGoneOrChanged(err)) continue;
        throw err;
      }
      try {
        setTimes(fd, mtime);
      } finally {
        closeFd(fd);
      }
    }
  }

  private async file(dirFd: number, base: string, header: EntryHeader, body: EntryBody): Promise<void> {
    // O_EXCL|O_NOFOLLOW: the name was just cleared, so anything there now was raced in.
    let fd: number;
    try {
      fd = native.openat(dirFd, base, C().O_WRONLY | C().O_CREAT | C().O_EXCL | C().O_NOFOLLOW, 0o600);
    } catch (err) {
      body.resume();
      throw err;
    }
    try {
      for await (const chunk of body) {
        for (let done = 0; done < chunk.length; ) {
          done += (await writeAt(fd, chunk, done, chunk.length - done)).bytesWritten;
        }
      }
      this.metadata(fd, header, false);
    } finally {
      closeFd(fd);
    }
  }

  private directory(dirFd: number, base: string, rel: string, header: EntryHeader): void {
    const existing = lstatChild(dirFd, base);
    if (existing) closeFd(existing.fd);
    if (existing && !existing.st.isDirectory()) {
      if (this.opts.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite non-directory ${JSON.stringify(rel)} with directory ${JSON.stringify(header.name)}`);
      removeChild(dirFd, base);
    }
    if (!existing || !existing.st.isDirectory()) native.mkdirat(dirFd, base, 0o755);
    let fd: number;
    try {
      fd = native.openat(dirFd, base, C().O_PATH | C().O_NOFOLLOW | C().O_DIRECTORY, 0);
    } catch (err) {
      // Something else (the container itself) swapped it: a conflict, as when the target is removed.
      if (isGoneOrChanged(err)) throw conflict(`directory ${JSON.stringify(rel)} changed while extracting`, err);
      throw err;
    }
    try {
      this.metadata(fd, header, false);
    } finally {
      closeFd(fd);
    }
    this.dirTimes.push([rel, header.mtime ?? new Date(0)]);
  }

  /** Removes what stands at `base` in `dirFd` so a new entry can take its place. */
  private replaceExisting(dirFd: number, base: string, rel: string): void {
    const existing = lstatChild(dirFd, base);
    if (!existing) return;
    closeFd(existing.fd);
    if (existing.st.isDirectory() && this.opts.noOverwriteDirNonDir) {
      throw invalidArgument(`cannot overwrite directory ${JSON.stringify(rel)} with non-directory ${JSON.stringify(rel)}`);
    }
    removeChild(dirFd, base);
  }

  /** Metadata of what was just made at `base` (symlink, device, fifo), on an O_PATH fd of it. */
  private metadataOfChild(dirFd: number, base: string, rel: string, header: EntryHeader): void {
    const fd = openChild(dirFd, base);
    try {
      const st = fstatSync(fd);
      const expected = header.type === 'symlink' ? st.isSymbolicLink() : header.type === 'fifo' ? st.isFIFO() : st.isCharacterDevice() || st.isBlockDevice();
      if (!expected) throw conflict(`${JSON.stringify(rel)} changed while extracting`);
      this.metadata(fd, header, header.type === 'symlink');
    } finally {
      closeFd(fd);
    }
  }

  /** Owner, mode, xattrs and (but for directories, set in finish) mtime, on the fd of the entry itself. */
  private metadata(fd: number, header: EntryHeader, isSymlink: boolean): void {
    const owner = this.opts.chownTo ?? { uid: header.uid ?? 0, gid: header.gid ?? 0 };
    native.fchownat(fd, '', owner.uid, owner.gid, C().AT_EMPTY_PATH);
    // chmod after chown: chown clears the set-id bits. A symlink has no mode of its own.
    if (!isSymlink) native.fchmodAny(fd, (header.mode ?? 0o644) & 0o7777);
    const { xattrs } = xattrsFromPax(header.pax as Record<string, string> | null | undefined);
    for (const [name, value] of xattrs) native.fsetxattr(fd, name, value);
    if (header.type !== 'directory') setTimes(fd, header.mtime ?? new Date(0));
  }

  private whiteout(rel: string, parent: string, base: string, mtime: Date): void {
    const mode = this.opts.whiteouts;
    if (mode === 'none') throw invalidArgument(`tar entry ${JSON.stringify(rel)} is a whiteout, which is not allowed here`);
    if (base !== OPAQUE_WHITEOUT && base.startsWith(WHITEOUT_META_PREFIX)) return;
    const dir = this.openDir(parent, true);
    try {
      if (base === OPAQUE_WHITEOUT) {
        if (mode === 'overlay') native.fsetxattr(dir.fd, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        else this.clearDirectoryExceptWritten(dir.fd, parent);
        return;
      }
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (name === '' || name === '.' || name === '..') throw invalidArgument(`tar entry ${JSON.stringify(rel)} is an invalid whiteout`);
      removeChild(dir.fd, name);
      if (mode === 'overlay') {
        native.mknodat(dir.fd, name, S_IFCHR, 0, 0);
        // The tar's time, not now: a layer copied twice (commit) must pack to the same diff ID.
        setTimesAt(dir.fd, name, mtime, C().AT_SYMLINK_NOFOLLOW);
      }
    } finally {
      dir.close();
    }
  }

  /** An opaque whiteout applied to a live tree: drop what lower layers put there. */
  private clearDirectoryExceptWritten(dirFd: number, dirRel: string): void {
    for (const child of native.readdirFd(dirFd)) {
      const childRel = dirRel === '' ? child : `${dirRel}/${child}`;
      if (!this.written.has(childRel)) removeChild(dirFd, child);
    }
  }

  /**
   * The directory `rel` (relative to dest) as an O_PATH fd, missing ones created when
   * `create`. Beneath dest in one openat2 call when no symlink leads out of dest; else
   * walked name by name from dest, a symlink followed as inside the root.
   */
  private openDir(rel: string, create: boolean): DirHandle {
    if (rel === '') return { fd: this.dest.fd, close: () => undefined };
    try {
      const fd = openBeneath(this.dest.fd, rel, { directory: true });
      return { fd, close: () => closeFd(fd) };
    } catch (err) {
      if (!['ENOENT', 'EXDEV', 'ELOOP', 'ENOTDIR', 'EAGAIN'].includes(errnoCode(err) ?? '')) throw err;
    }
    const walk = RootWalk.from(this.dest);
    try {
      walk.walk(rel, { create });
      if (!fstatSync(walk.fd).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      walk.close();
      if (errnoCode(err) === 'ENOTDIR') throw invalidArgument(`cannot extract under ${JSON.stringify(rel)}: not a directory`, err);
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ELOOP') throw invalidArgument(`cannot create directory ${JSON.stringify(rel)}`, err);
      throw err;
    }
    return { fd: walk.fd, close: () => walk.close() };
  }

  /** An existing directory `rel` itself (not a symlink to one), for finish(). */
  private openExistingDir(rel: string): number {
    const { parent, base } = splitEntryName(rel);
    const dir = this.openDir(parent, false);
    try {
      return native.openat(dir.fd, base, C().O_PATH | C().O_NOFOLLOW | C().O_DIRECTORY, 0);
    } finally {
      dir.close();
    }
  }

  private hardlink(dirFd: number, base: string, linkname: string, entryName: string): void {
    let rel: string;
    try {
      rel = cleanEntryName(linkname);
    } catch {
      throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: hardlink target ${JSON.stringify(linkname)} is outside the destination`);
    }
    if (rel === '') throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: invalid hardlink target ${JSON.stringify(linkname)}`);
    const source = splitEntryName(rel);
    let sourceDir: DirHandle;
    try {
      sourceDir = this.openDir(source.parent, false);
    } catch (err) {
      throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: hardlink target ${JSON.stringify(linkname)} does not exist`, err);
    }
    try {
      // No AT_SYMLINK_FOLLOW: a symlink source is linked itself, never followed.
      native.linkat(sourceDir.fd, source.base, dirFd, base, 0);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: hardlink target ${JSON.stringify(linkname)} does not exist`, err);
      throw err;
    } finally {
      sourceDir.close();
    }
  }
}

function setTimes(fd: number, mtime: Date): void {
  setTimesAt(fd, '', mtime, C().AT_EMPTY_PATH);
}

function setTimesAt(dirFd: number, name: string, mtime: Date, flags: number): void {
  const ms = mtime.getTime();
  const seconds = Math.floor(ms / 1000);
  native.utimensat(dirFd, name, seconds, (ms - seconds * 1000) * 1_000_000, flags);
}

function isGoneOrChanged(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
