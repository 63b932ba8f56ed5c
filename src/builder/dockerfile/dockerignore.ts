// .dockerignore with Docker's semantics (root-anchored globs, `**`, `!` exceptions, later rules
// win), via @balena/dockerignore, plus BuildKit's per-Dockerfile `<Dockerfile>.dockerignore`.
import fs from 'node:fs';
import path from 'node:path';
import ignore from '@balena/dockerignore';

export interface ContextFilter {
  /** Where the patterns came from, or null when there is no ignore file. */
  source: string | null;
  patterns: string[];
  /** True when `relPath` (relative to the context root, `/`-separated) is left out of the context. */
  excludes(relPath: string): boolean;
}

/** Pattern lines of an ignore file: comments and blank lines dropped, leading `/` removed. */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let line = raw.trim();
    if (line === '' ) continue;
    const neg = line.startsWith('!');
    if (neg) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, '');
    if (line === '' || line === '.') continue;
    out.push((neg ? '!' : '') + line);
  }
  return out;
}

export function contextFilter(patterns: string[], source: string | null = null): ContextFilter {
  const ig = ignore().add(patterns);
  return {
    source, patterns,
    excludes: (relPath) => {
      const p = path.posix.normalize(relPath).replace(/^\/+/, '');
      return p !== '.' && p !== '' && ig.ignores(p);
    },
  };
}

/**
 * The filter for a build: `<dockerfile>.dockerignore` beside the Dockerfile wins over the
 * context's `.dockerignore`. The builder still reads the Dockerfile itself even if excluded.
 */
export function loadContextFilter(contextDir: string, dockerfilePath: string): ContextFilter {
  const candidates = [`${path.resolve(contextDir, dockerfilePath)}.dockerignore`, path.join(contextDir, '.dockerignore')];
  for (const file of candidates) {
    let text: string;
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`reading ${file}: ${(e as Error).message}`);
    }
    return contextFilter(parseIgnoreFile(text), file);
  }
  return contextFilter([], null);
}

/**
 * Which paths a build context holds (packDirectory's `include` in berth build, the daemon's
 * view of a local context): excluded paths are left out, except the files in `kept`; an excluded folder is still walked when an exception (`!…`, or a
 * kept file) may match beneath it, as docker's TarWithOptions does.
 */
export function includeFilter(filter: ContextFilter, kept: Set<string>, isDirectory: (rel: string) => boolean): (rel: string) => boolean {
  const exceptions = [...filter.patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1)), ...kept];
  const mayHoldException = (dir: string): boolean =>
    exceptions.some((p) => {
      const literal = p.split(/[*?[\\]/)[0]!;
      return p.startsWith(`${dir}/`) || `${dir}/`.startsWith(literal) || literal.startsWith(`${dir}/`);
    });
  return (rel: string) => {
    if (kept.has(rel)) return true;
    if (!filter.excludes(rel)) return true;
    // Only a folder can hold an exception (stat'ed only in this rare case).
    return mayHoldException(rel) && isDirectory(rel);
  };
}
