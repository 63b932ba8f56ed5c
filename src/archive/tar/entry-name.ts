import { invalidArgument } from '../../errors';

/**
 * Cleans a tar entry name into a relative path with no `.`, `..` or empty components.
 * A leading `/` is dropped (absolute names are confined to the destination, as Docker
 * does). A `..` that would climb above the destination is refused. Returns '' for the
 * root itself ("./", "/").
 */
export function cleanEntryName(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw invalidArgument(`tar entry ${JSON.stringify(name)} climbs out of the destination`);
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** Splits a cleaned relative path into its parent ('' for the top) and its last name. */
export function splitEntryName(rel: string): { parent: string; base: string } {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? { parent: '', base: rel } : { parent: rel.slice(0, slash), base: rel.slice(slash + 1) };
}

/**
 * True when a symlink at `rel` (cleaned) with `target` points outside the destination:
 * an absolute target, or one whose `..` climbs above the top when resolved from rel's parent.
 */
export function symlinkLeaves(rel: string, target: string): boolean {
  if (target.startsWith('/')) return true;
  const parts = splitEntryName(rel).parent.split('/').filter((p) => p !== '');
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return true;
      parts.pop();
    } else parts.push(part);
  }
  return false;
}
