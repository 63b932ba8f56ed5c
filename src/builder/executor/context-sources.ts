import { fstatSync } from 'node:fs';
import { native } from '../../native';
import { errnoCode } from '../../errors';
import { readlinkSync } from 'node:fs';
import { closeFd, lstatChild, openBeneath } from '../../util/fs-at';
import type { ContextPathFilter } from '../types';

/** One source a COPY/ADD selected: its path relative to the source root and an O_PATH fd (the caller closes it). */
export interface SelectedSource {
  rel: string;
  /** Where it really is, relative to the root (`rel` may go through a symlink). */
  real: string;
  fd: number;
  isDir: boolean;
}

export class SourceError extends Error {}

/** Cleans a source as moby does: relative to the root, `..` never above it. */
export function cleanSourcePath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

export function hasGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

/**
 * Opens the sources a pattern names under the directory fd `rootFd` (the build context, or
 * another stage's root): a plain path is resolved strictly beneath the root, so a symlink
 * leading out of it (absolute, or through `..`) is refused; a glob (Go's filepath.Match, `*`
 * never crossing `/`) is matched against the tree's paths, walked without following links.
 */
export function selectSources(rootFd: number, pattern: string, what: string, filter?: ContextPathFilter): SelectedSource[] {
  const clean = cleanSourcePath(pattern);
  if (!hasGlob(clean)) return [openSource(rootFd, clean, pattern, what, filter)];
  const re = globRegExp(clean);
  const found: SelectedSource[] = [];
  const depth = clean.split('/').length;
  walk(rootFd, '', 1, depth, filter, (rel) => {
    if (re.test(rel)) found.push(openSource(rootFd, rel, rel, what, filter));
  });
  return found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function openSource(rootFd: number, rel: string, shown: string, what: string, filter: ContextPathFilter | undefined): SelectedSource {
  const missing = () => new SourceError(`file not found in ${what}: stat ${shown}: file does not exist`);
  if (filter && !includesPath(filter, rel)) throw missing();
  let fd: number;
  try {
    fd = openBeneath(rootFd, rel);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EXDEV' || code === 'ELOOP') throw new SourceError(`forbidden path outside the ${what}: ${shown} (a symlink leads out of it)`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw missing();
    throw err;
  }
  let real: string;
  try {
    real = resolvedBeneath(rootFd, fd);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  // Through a symlink, the path reached must be in the context too (the one a tar would hold).
  if (filter && !includesPath(filter, real)) {
    closeFd(fd);
    throw missing();
  }
  return { rel, real, fd, isDir: fstatSync(fd).isDirectory() };
}

/** True when `rel` and every folder above it are in the context. */
export function includesPath(filter: ContextPathFilter, rel: string): boolean {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 1; i <= parts.length; i++) if (!filter.includes(parts.slice(0, i).join('/'))) return false;
  return true;
}

/** Where an fd opened beneath `rootFd` stands, relative to it (the kernel's name for each, via /proc). */
export function resolvedBeneath(rootFd: number, fd: number): string {
  const root = readlinkSync(`/proc/self/fd/${rootFd}`);
  const at = readlinkSync(`/proc/self/fd/${fd}`);
  if (at === root) return '';
  if (!at.startsWith(root === '/' ? '/' : `${root}/`)) throw new SourceError(`forbidden path outside the build context: ${at}`);
  return at.slice(root === '/' ? 1 : root.length + 1);
}

/** Visits paths down to `maxDepth` components (a glob's components), never following links nor entering what `filter` leaves out. */
function walk(dirFd: number, prefix: string, depth: number, maxDepth: number, filter: ContextPathFilter | undefined, visit: (rel: string) => void): void {
  for (const name of native.readdirFd(dirFd).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    if (filter && !filter.includes(rel)) continue;
    visit(rel);
    if (depth >= maxDepth) continue;
    const child = lstatChild(dirFd, name);
    if (!child) continue;
    try {
      if (child.st.isDirectory()) walk(child.fd, rel, depth + 1, maxDepth, filter, visit);
    } finally {
      closeFd(child.fd);
    }
  }
}

/** Go's filepath.Match as a regular expression over a whole `/`-separated path. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new SourceError(`syntax error in pattern: ${pattern}`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
