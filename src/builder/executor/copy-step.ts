import { fstatSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoCode } from '../../errors';
import { native } from '../../native';
import { closeFd, openHostPath, RootWalk } from '../../util/fs-at';
import { extractAt } from '../../archive/tar/extract';
import type { Heredoc } from '../dockerfile/parser';
import { copyChildren, copyEntry, setMetadata, type CopyAttributes, type CopyScope } from './copy-files';
import type { ContextPathFilter } from '../types';
import { selectSources, SourceError, type SelectedSource } from './context-sources';
import { AddSourceError, downloadUrl, isUrl, openIfArchive } from './add-sources';

export class CopyError extends Error {}

export interface CopyRequest {
  kind: 'copy' | 'add';
  /** Expanded sources (heredoc names as `<<NAME`) and destination (absolute, WORKDIR applied, trailing `/` kept). */
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  /** Expands a heredoc's body (unquoted delimiter). */
  expandHeredoc(text: string): string;
  attrs: CopyAttributes;
  /** The directory fd sources are read from (the context, or another stage's root), and what to call it in errors. */
  sourceRoot: number;
  sourceName: string;
  /** A local context's .dockerignore (the source root is then the user's folder, read in place). */
  sourceFilter?: ContextPathFilter;
  /** A daemon-owned folder for downloads and heredoc files. */
  tmpDir: string;
  signal: AbortSignal;
}

/**
 * COPY/ADD into the step's root `rootFd` with Docker's rules: several sources need a
 * destination ending in `/`; a directory's content (not the directory) is copied; a file
 * goes into the destination when it is a directory or ends in `/`, else becomes it; ADD
 * extracts local tars and downloads URLs. The destination is walked inside the root
 * (symlinks there followed within it), missing directories made 0755.
 */
export async function copyIntoRoot(rootFd: number, req: CopyRequest): Promise<void> {
  const entries: Entry[] = [];
  const scratch = path.join(req.tmpDir, `copy-${randomBytes(6).toString('hex')}`);
  try {
    await fs.mkdir(scratch, { recursive: true, mode: 0o700 });
    for (const source of req.sources) {
      const heredoc = heredocFor(source, req.heredocs);
      if (heredoc) {
        const file = path.join(scratch, `heredoc-${entries.length}`);
        await fs.writeFile(file, heredoc.expand ? req.expandHeredoc(heredoc.content) : heredoc.content, { mode: 0o644 });
        await fs.chmod(file, 0o644);
        await fs.utimes(file, 0, 0);
        entries.push({ name: heredoc.name, fd: openHostPath(file), isDir: false });
        continue;
      }
      if (isUrl(source)) {
        if (req.kind === 'copy') throw new CopyError('source can\'t be a URL for COPY');
        const file = path.join(scratch, `download-${entries.length}`);
        let name: string;
        try {
          name = await downloadUrl(source, file, req.signal);
        } catch (err) {
          if (err instanceof AddSourceError) throw new CopyError(err.message);
          throw err;
        }
        if (name === '' && req.dest.endsWith('/')) throw new CopyError(`cannot determine filename from url: ${source}`);
        entries.push({ name, fd: openHostPath(file), isDir: false });
        continue;
      }
      let selected: SelectedSource[];
      try {
        selected = selectSources(req.sourceRoot, source, req.sourceName, req.sourceFilter);
      } catch (err) {
        if (err instanceof SourceError) throw new CopyError(err.message);
        throw err;
      }
      if (selected.length === 0) throw new CopyError(`no source files were specified: ${source} matches nothing in ${req.sourceName}`);
      for (const s of selected) {
        const scope = req.sourceFilter && { filter: req.sourceFilter, real: s.real };
        entries.push({ name: path.posix.basename(s.rel) || '.', fd: s.fd, isDir: s.isDir, archive: req.kind === 'add' && !s.isDir, ...(scope ? { scope } : {}) });
      }
    }
    if (entries.length > 1 && !req.dest.endsWith('/')) {
      throw new CopyError(`When using ${req.kind.toUpperCase()} with more than one source file, the destination must be a directory and end with a /`);
    }
    for (const entry of entries) await place(rootFd, entry, req);
  } finally {
    for (const e of entries) closeFd(e.fd);
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

interface Entry {
  name: string;
  fd: number;
  isDir: boolean;
  archive?: boolean;
  scope?: CopyScope;
}

async function place(rootFd: number, entry: Entry, req: CopyRequest): Promise<void> {
  const destDir = req.dest.endsWith('/') || req.dest === '/';
  if (entry.isDir) {
    await withDir(rootFd, req.dest, true, (fd, created) => {
      copyChildren(entry.fd, fd, req.attrs, entry.scope, created);
      // moby's CopyWithTar makes a missing destination 0755 (its tar has no `.` entry), then chowns it.
      if (created) setMetadata(fd, fstatSync(entry.fd, { bigint: true }), { ...req.attrs, mode: req.attrs.mode ?? 0o755 });
    });
    return;
  }
  if (entry.archive) {
    const tar = await openIfArchive(entry.fd);
    if (tar) {
      const walk = RootWalk.at(rootFd);
      try {
        walkOrFail(walk, req.dest, true);
        await extractAt(tar, walk, { whiteouts: 'literal' });
      } finally {
        walk.close();
      }
      return;
    }
  }
  // A file: into the destination when it is (or is named as) a directory, else as it.
  const existingDir = !destDir && isDirectory(rootFd, req.dest);
  if (destDir || existingDir) {
    await withDir(rootFd, req.dest, true, (fd) => copyEntry(entry.fd, fd, entry.name, req.attrs), req.attrs);
    return;
  }
  const parent = path.posix.dirname(req.dest);
  const base = path.posix.basename(req.dest);
  await withDir(rootFd, parent, true, (fd) => copyEntry(entry.fd, fd, base, req.attrs), req.attrs);
}

/**
 * Runs `fn` on the directory `dir` (made when missing). `owner`: who owns the folders made for
 * it, as moby's copyFile makes a file's missing parents (MkdirAllAndChownNew with --chown's
 * owner); a directory's copy leaves its made parents to root.
 */
async function withDir(rootFd: number, dir: string, create: boolean, fn: (fd: number, created: boolean) => void, owner?: { uid: number; gid: number }): Promise<void> {
  const existed = isDirectory(rootFd, dir);
  const made = create && owner && !existed ? missingDirs(rootFd, dir) : [];
  const walk = RootWalk.at(rootFd);
  try {
    walkOrFail(walk, dir, create);
    if (!fstatSync(walk.fd).isDirectory()) throw new CopyError(`cannot copy to non-directory: ${dir}`);
    for (const m of made) chownDir(rootFd, m, owner!);
    fn(walk.fd, !existed);
  } finally {
    walk.close();
  }
}

/** The folders on the way to `dir` that are not there yet (once one is missing, so is the rest). */
function missingDirs(rootFd: number, dir: string): string[] {
  const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 0; i < parts.length; i++) {
    const prefix = '/' + parts.slice(0, i + 1).join('/');
    if (!isDirectory(rootFd, prefix)) return parts.slice(i).map((_, k) => '/' + parts.slice(0, i + k + 1).join('/'));
  }
  return [];
}

function chownDir(rootFd: number, dir: string, owner: { uid: number; gid: number }): void {
  const walk = RootWalk.at(rootFd);
  try {
    walk.walk(dir);
    native.fchownat(walk.fd, '', owner.uid, owner.gid, native.constants.AT_EMPTY_PATH);
  } finally {
    walk.close();
  }
}

function walkOrFail(walk: RootWalk, dir: string, create: boolean): void {
  try {
    walk.walk(dir, { create });
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') throw new CopyError(`cannot copy to non-directory: ${dir}`);
    throw err;
  }
}

function isDirectory(rootFd: number, p: string): boolean {
  const walk = RootWalk.at(rootFd);
  try {
    walk.walk(p);
    return fstatSync(walk.fd).isDirectory();
  } catch {
    return false;
  } finally {
    walk.close();
  }
}

function heredocFor(source: string, heredocs: Heredoc[]): Heredoc | undefined {
  const m = /^<<-?(["']?)(.+)\1$/.exec(source);
  if (!m) return undefined;
  return heredocs.find((h) => h.name === m[2]);
}
