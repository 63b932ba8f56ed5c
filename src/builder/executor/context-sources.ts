import { fstatSync } from 'node:fs';
import { native } from '../../native';
import { errnoCode } from '../../errors';
import { closeFd, lstatChild, openBeneath } from '../../util/fs-at';

/** One source a COPY/ADD selected: its path relative to the source root and an O_PATH fd (the caller closes it). */
export interface SelectedSource {
  rel: string;
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
export function selectSources(rootFd: number, pattern: string, what: string): SelectedSource[] {
  const clean = cleanSourcePath(pattern);
  if (!hasGlob(clean)) return [openSource(rootFd, clean, pattern, what)];
  const re = globRegExp(clean);
  const found: SelectedSource[] = [];
  const depth = clean.split('/').length;
  walk(rootFd, '', 1, depth, (rel) => {
    if (re.test(rel)) found.push(openSource(rootFd, rel, rel, what));
  });
  return found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function openSource(rootFd: number, rel: string, shown: string, what: string): SelectedSource {
  let fd: number;
  try {
    fd = openBeneath(rootFd, rel);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EXDEV' || code === 'ELOOP') throw new SourceError(`forbidden path outside the ${what}: ${shown} (a symlink leads out of it)`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SourceError(`file not found in ${what}: stat ${shown}: file does not exist`);
    throw err;
  }
  return { rel, fd, isDir: fstatSync(fd).isDirectory() };
}

/** Visits paths down to `maxDepth` components (a glob's components), never following links. */
function walk(dirFd: number, prefix: string, depth: number, maxDepth: number, visit: (rel: string) => void): void {
  for (const name of native.readdirFd(dirFd).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    visit(rel);
    if (depth >= maxDepth) continue;
    const child = lstatChild(dirFd, name);
    if (!child) continue;
    try {
      if (child.st.isDirectory()) walk(child.fd, rel, depth + 1, maxDepth, visit);
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
