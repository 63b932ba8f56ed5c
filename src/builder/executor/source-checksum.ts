import { createHash, type Hash } from 'node:crypto';
import { fstatSync, readSync, type BigIntStats } from 'node:fs';
import { native } from '../../native';
import { closeFd, lstatChild, openForReading } from '../../util/fs-at';
import { symlinkLeaves } from '../../archive/tar/entry-name';
import type { ContextPathFilter } from '../types';
import { selectSources, SourceError } from './context-sources';
import { FileDigestCache } from './file-digest-cache';
import type { LocalTarHeaders } from './local-tar-headers';

const CHUNK = 1024 * 1024;
const buffer = Buffer.allocUnsafe(CHUNK);

/** How a local context is read: what its .dockerignore leaves in, the digests known from earlier builds, the tar headers the CLI would send. */
export interface LocalChecksumOptions {
  filter: ContextPathFilter;
  digests: FileDigestCache;
  headers: LocalTarHeaders;
}

/**
 * The checksum COPY/ADD's cache key takes of its sources: every selected file and what is
 * under a selected directory — its path, type, permission bits, owner, size, link target and
 * the sha256 of its content (for a local context: its tarsum, which covers the content) — never mtimes, so touching a file or checking it out again keeps
 * the cache. Symlinks below a source are hashed as links (COPY copies them so); in a local
 * context one pointing out of it is refused, as berth build's tar with one is when received.
 */
export function checksumSources(rootFd: number, patterns: readonly string[], what: string, local?: LocalChecksumOptions): string {
  const hash = createHash('sha256');
  const now = Date.now();
  for (const pattern of patterns) {
    hash.update(`pattern\0${pattern}\0`);
    for (const source of selectSources(rootFd, pattern, what, local?.filter)) {
      try {
        // Links are judged from where the source really is (a selected path may go through one).
        hashEntry(hash, source.fd, source.rel, source.real, local, now);
      } finally {
        closeFd(source.fd);
      }
    }
  }
  return hash.digest('hex');
}

function hashEntry(hash: Hash, fd: number, rel: string, real: string, local: LocalChecksumOptions | undefined, now: number): void {
  const st = fstatSync(fd, { bigint: true });
  const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : st.isFIFO() ? 'p' : 'o';
  hash.update(`${rel}\0${type}\0${(Number(st.mode) & 0o7777).toString(8)}\0${st.uid}:${st.gid}\0`);
  if (type === 'l') {
    const target = native.readlinkat(fd, '');
    if (local && symlinkLeaves(real, target)) throw new SourceError(`forbidden path outside the build context: ${rel} -> ${target} (a symlink leads out of it)`);
    hash.update(`${target}\0`);
  } else if (type === 'f') {
    // A local file's tarsum (as the CLI's tar would give it) covers its content and is COPY's
    // history too: one read for both. A second name of a linked file has no content in it.
    const header = local?.headers.header(real, fd, st);
    const digest = header?.typeflag === '0' ? `tarsum:${local!.headers.sum(real, fd, st)}` : fileDigest(fd, st, local?.digests, now);
    hash.update(`${st.size}\0${digest}\0`);
  } else if (type === 'd') {
    for (const name of native.readdirFd(fd).sort()) {
      const childRel = `${rel}/${name}`;
      const childReal = real === '' ? name : `${real}/${name}`;
      if (local && !local.filter.includes(childReal)) continue;
      const child = lstatChild(fd, name);
      if (!child) continue;
      try {
        hashEntry(hash, child.fd, childRel, childReal, local, now);
      } finally {
        closeFd(child.fd);
      }
    }
  }
}

/** A regular file's sha256 (hex), from `digests` when the file is unchanged since it was last read. */
function fileDigest(pathFd: number, st: BigIntStats, digests: FileDigestCache | undefined, now: number): string {
  const key = digests ? FileDigestCache.key(st) : '';
  const known = digests?.get(key);
  if (known) return known;
  const content = createHash('sha256');
  const readable = openForReading(pathFd);
  try {
    for (let n; (n = readSync(readable, buffer, 0, CHUNK, null)) > 0; ) content.update(buffer.subarray(0, n));
  } finally {
    closeFd(readable);
  }
  const digest = content.digest('hex');
  // A file changed within the last seconds may change again inside one timestamp tick
  // without its ctime moving (git's "racy clean" case): such a digest is not kept.
  if (digests && Number(st.ctimeMs) < now - FileDigestCache.RACY_MS) digests.set(key, digest);
  return digest;
}
