import { promises as fs, constants as fsConstants, lstatSync, mkdirSync, Stats } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { native } from '../../native';
import { errnoCode, invalidArgument, isENOENT } from '../../errors';
import { cleanEntryName, splitEntryName } from './entry-name';
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
}

type EntryHeader = tarStream.Header;
/** An entry's body as tar-stream hands it over (a streamx Readable). */
type EntryBody = AsyncIterable<Uint8Array> & { resume(): unknown };

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/**
 * Extracts a tar stream into `dest`, safely: every name is cleaned, `..` above dest is
 * refused, absolute names are confined, the parent of every entry is resolved with
 * native.resolveInRoot (so a symlink from an earlier entry cannot redirect a later one
 * outside), and hardlink sources must resolve inside. Symlink targets are stored as-is.
 * Preserves mode, owner, mtime, PAX xattrs, devices and fifos. Returns the bytes of
 * regular files written.
 */
export async function extractLayer(tar: Readable, dest: string, opts: ExtractOptions): Promise<{ size: number }> {
  const extractor = new TarExtractor(dest, opts);
  const parser = tarStream.extract();
  const piping = pipeline(tar, parser as unknown as NodeJS.WritableStream);
  piping.catch(() => undefined); // surfaced through the iterator below
  try {
    for await (const entry of parser) {
      await extractor.entry(entry.header, entry as unknown as EntryBody);
    }
    await piping;
  } catch (err) {
    tar.destroy();
    parser.destroy();
    throw err;
  }
  await extractor.finish();
  return { size: extractor.size };
}

class TarExtractor {
  size = 0;
  private readonly root: string;
  /** dest relative to root ('' when they are the same). */
  private readonly base: string;
  /** Directory mtimes are set last: creating their children changes them. */
  private readonly dirTimes: Array<[string, Date]> = [];
  /** Paths written by this tar, which an opaque whiteout in 'apply' mode must keep. */
  private readonly written = new Set<string>();

  constructor(dest: string, private readonly opts: ExtractOptions) {
    this.root = opts.root ?? dest;
    const rel = path.relative(this.root, dest);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw invalidArgument(`extraction target ${dest} is outside ${this.root}`);
    this.base = rel;
  }

  async entry(header: EntryHeader, body: EntryBody): Promise<void> {
    const rel = cleanEntryName(header.name);
    if (rel === '') {
      body.resume(); // the root itself ("./"): its metadata belongs to the destination
      return;
    }
    const { parent, base } = splitEntryName(rel);
    if (base.startsWith(WHITEOUT_PREFIX) && this.opts.whiteouts !== 'literal') {
      body.resume();
      await this.whiteout(rel, parent, base);
      return;
    }
    const parentHost = this.ensureDir(parent);
    const target = path.join(parentHost, base);
    this.written.add(rel);
    if (header.type === 'directory') {
      body.resume();
      await this.directory(target, header);
      return;
    }
    await this.replaceExisting(target, rel);
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        await writeBody(target, body);
        this.size += header.size;
        break;
      case 'symlink':
        body.resume();
        await fs.symlink(header.linkname ?? '', target);
        break;
      case 'link':
        body.resume();
        await fs.link(this.hardlinkSource(header.linkname ?? '', header.name), target);
        return; // shares the source's inode and metadata
      case 'character-device':
      case 'block-device':
        body.resume();
        native.mknod(target, (header.type === 'character-device' ? S_IFCHR : S_IFBLK) | ((header.mode ?? 0o600) & 0o7777), header.devmajor ?? 0, header.devminor ?? 0);
        break;
      case 'fifo':
        body.resume();
        native.mknod(target, S_IFIFO | ((header.mode ?? 0o600) & 0o7777), 0, 0);
        break;
      default:
        body.resume();
        throw invalidArgument(`tar entry ${JSON.stringify(header.name)} has an unsupported type ${String(header.type as unknown)}`);
    }
    await this.applyMetadata(target, header, header.type === 'symlink');
  }

  async finish(): Promise<void> {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [dir, mtime] = this.dirTimes[i];
      await fs.lutimes(dir, mtime, mtime).catch((err: unknown) => {
        if (!isENOENT(err)) throw err; // removed by a later whiteout
      });
    }
  }

  private async directory(target: string, header: EntryHeader): Promise<void> {
    const existing = await lstatOrUndefined(target);
    if (existing && !existing.isDirectory()) {
      if (this.opts.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite non-directory ${JSON.stringify(target)} with directory ${JSON.stringify(header.name)}`);
      await fs.rm(target, { force: true });
    }
    if (!existing || !existing.isDirectory()) await fs.mkdir(target, 0o755);
    await this.applyMetadata(target, header, false);
  }

  /** Removes what stands at `target` so a new entry can take its place. */
  private async replaceExisting(target: string, name: string): Promise<void> {
    const existing = await lstatOrUndefined(target);
    if (!existing) return;
    if (existing.isDirectory() && this.opts.noOverwriteDirNonDir) {
      throw invalidArgument(`cannot overwrite directory ${JSON.stringify(target)} with non-directory ${JSON.stringify(name)}`);
    }
    await fs.rm(target, { recursive: true, force: true });
  }

  private async applyMetadata(target: string, header: EntryHeader, isSymlink: boolean): Promise<void> {
    const owner = this.opts.chownTo ?? { uid: header.uid ?? 0, gid: header.gid ?? 0 };
    await fs.lchown(target, owner.uid, owner.gid);
    // chmod after chown: chown clears the set-id bits.
    if (!isSymlink) await fs.chmod(target, (header.mode ?? 0o644) & 0o7777);
    const { xattrs } = xattrsFromPax(header.pax as Record<string, string> | null | undefined);
    for (const [name, value] of xattrs) native.lsetxattr(target, name, value);
    const mtime = header.mtime ?? new Date(0);
    if (header.type === 'directory') this.dirTimes.push([target, mtime]);
    else await fs.lutimes(target, mtime, mtime);
  }

  private async whiteout(rel: string, parent: string, base: string): Promise<void> {
    const mode = this.opts.whiteouts;
    if (mode === 'none') throw invalidArgument(`tar entry ${JSON.stringify(rel)} is a whiteout, which is not allowed here`);
    if (base !== OPAQUE_WHITEOUT && base.startsWith(WHITEOUT_META_PREFIX)) return;
    const parentHost = this.ensureDir(parent);
    if (base === OPAQUE_WHITEOUT) {
      if (mode === 'overlay') native.lsetxattr(parentHost, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      else await this.clearDirectoryExceptWritten(parentHost, parent);
      return;
    }
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw invalidArgument(`tar entry ${JSON.stringify(rel)} is an invalid whiteout`);
    const target = path.join(parentHost, name);
    await fs.rm(target, { recursive: true, force: true });
    if (mode === 'overlay') native.mknod(target, S_IFCHR, 0, 0);
  }

  /** An opaque whiteout applied to a live tree: drop what lower layers put there. */
  private async clearDirectoryExceptWritten(dirHost: string, dirRel: string): Promise<void> {
    for (const child of await fs.readdir(dirHost)) {
      const childRel = dirRel === '' ? child : `${dirRel}/${child}`;
      if (!this.written.has(childRel)) await fs.rm(path.join(dirHost, child), { recursive: true, force: true });
    }
  }

  /** The host path of `rel` (relative to dest) as a directory, creating missing ones in root. */
  private ensureDir(rel: string, createParents = true): string {
    const inRoot = path.join('/', this.base, rel);
    if (inRoot === '/') return this.root;
    let host: string | undefined;
    try {
      host = native.resolveInRoot(this.root, inRoot);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
    }
    const st = host === undefined ? undefined : lstatIfExists(host);
    if (host !== undefined && st?.isDirectory()) return host;
    if (st) throw invalidArgument(`cannot extract under ${JSON.stringify(rel)}: not a directory`);
    if (host !== undefined) {
      // The parent resolved inside root and only the last name is missing.
      // The path resolved inside root; what is missing (possibly several levels, e.g.
      // under a symlink to an absent directory) holds no symlink, so create it there.
      if (!isInside(this.root, host)) throw invalidArgument(`cannot create directory ${JSON.stringify(rel)} outside the root`);
      try {
        mkdirSync(host, { recursive: true, mode: 0o755 });
      } catch (err) {
        throw invalidArgument(`cannot create directory ${JSON.stringify(rel)}`, err);
      }
      if (native.resolveInRoot(this.root, inRoot) !== host) throw invalidArgument(`directory ${JSON.stringify(rel)} changed while extracting`);
      return host;
    }
    if (rel === '' || !createParents) throw invalidArgument(`cannot create directory ${JSON.stringify(inRoot)}`);
    this.ensureDir(splitEntryName(rel).parent);
    return this.ensureDir(rel, false);
  }

  private hardlinkSource(linkname: string, entryName: string): string {
    let rel: string;
    try {
      rel = cleanEntryName(linkname);
    } catch {
      throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: hardlink target ${JSON.stringify(linkname)} is outside the destination`);
    }
    if (rel === '') throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: invalid hardlink target ${JSON.stringify(linkname)}`);
    const { parent, base } = splitEntryName(rel);
    const parentHost = native.resolveInRoot(this.root, path.join('/', this.base, parent));
    if (!isInside(this.root, parentHost)) {
      throw invalidArgument(`tar entry ${JSON.stringify(entryName)}: hardlink target ${JSON.stringify(linkname)} is outside the destination`);
    }
    return path.join(parentHost, base);
  }
}

/** Writes an entry's body to a new file; O_EXCL|O_NOFOLLOW because the path was just cleared. */
async function writeBody(target: string, body: EntryBody): Promise<void> {
  const handle = await fs.open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of body) await handle.write(chunk);
  } finally {
    await handle.close();
  }
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function lstatIfExists(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if (isENOENT(err)) return undefined;
    throw err;
  }
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if (isENOENT(err)) return undefined;
    throw err;
  }
}
