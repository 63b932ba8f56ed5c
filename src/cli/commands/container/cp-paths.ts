import * as path from 'node:path';

/** docker's splitCpArg: "ctr:/path" → container + path; absolute or ./-relative paths are local. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon === -1 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** True when the path says "this must be a directory": a trailing "/" or "/.". */
export function assertsDirectory(p: string): boolean {
  return p.endsWith('/') || p.endsWith('/.') || p === '.';
}

/** moby's SplitPathDirEntry: the parent and the base, keeping a trailing "/." as base ".". */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  const specifiesCurrent = p.endsWith('/.') || p === '.';
  const cleaned = path.posix.normalize(p.replace(/\/+$/, '') || '/');
  if (specifiesCurrent) return { dir: cleaned, base: '.' };
  return { dir: path.posix.dirname(cleaned), base: path.posix.basename(cleaned) };
}

export interface CopyEnd {
  path: string;
  exists: boolean;
  isDir: boolean;
}

export type CopyPlan =
  | { ok: true; /** directory to extract into */ dir: string; /** rename the source's top entry from → to, when set */ rebase?: { from: string; to: string } }
  | { ok: false; error: string };

/**
 * moby's PrepareArchiveCopy: where a source archive (entries named after the source's base)
 * goes for a destination, and how its top entry must be renamed.
 */
export function planArchiveCopy(src: { path: string; isDir: boolean; rebaseName?: string }, dst: CopyEnd): CopyPlan {
  const { dir: dstDir, base: dstBase } = splitPathDirEntry(dst.path);
  const srcBase = src.rebaseName || splitPathDirEntry(src.path).base;
  if (dst.exists && dst.isDir) return { ok: true, dir: dst.path };
  if (dst.exists && src.isDir) return { ok: false, error: 'cannot copy directory' };
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) return { ok: false, error: `no such directory` };
  return { ok: true, dir: dstDir, rebase: { from: srcBase, to: dstBase } };
}

/** Renames a tar entry whose first component is `from` ("." for a `dir/.` source) to `to`. */
export function rebaseEntryName(name: string, from: string, to: string): string {
  const trailing = name.endsWith('/') && name.length > 1 ? '/' : '';
  const parts = name.split('/').filter((part) => part !== '');
  if (from === '.') {
    const rest = parts[0] === '.' ? parts.slice(1) : parts;
    return rest.length === 0 ? `${to}${trailing}` : `${to}/${rest.join('/')}${trailing}`;
  }
  const rest = parts[0] === '.' ? parts.slice(1) : parts;
  if (rest[0] !== from) return name;
  return [to, ...rest.slice(1)].join('/') + trailing;
}

/** Go's os.FileMode bits in the container path stat. */
export const GO_MODE_DIR = 2 ** 31;
export const GO_MODE_SYMLINK = 2 ** 27;
export const isGoDir = (mode: number) => Math.floor(mode / GO_MODE_DIR) % 2 === 1;
export const isGoSymlink = (mode: number) => Math.floor(mode / GO_MODE_SYMLINK) % 2 === 1;
