import { createHash, type Hash } from 'node:crypto';
import { fstatSync, readSync, type BigIntStats } from 'node:fs';
import { native } from '../../native';
import { closeFd, lstatChild, openForReading } from '../../util/fs-at';
import { symlinkLeaves } from '../../archive/tar/entry-name';
import type { ContextPathFilter } from '../types';
import { selectSources, SourceError } from './context-sources';
import { FileDigestCache } from './file-digest-cache';
import { tarsumKey, type ContextTarHeaders } from './copy-history';
import { entrySum } from './tarsum';
import type { LocalTarHeaders } from './local-tar-headers';

const CHUNK = 1024 * 1024;
const buffer = Buffer.allocUnsafe(CHUNK);

/** How a local context is read: what its .dockerignore leaves in, the digests known from earlier builds, the tar headers the CLI would send. */
export interface LocalChecksumOptions {
  filter: ContextPathFilter;
  digests: FileDigestCache;
  headers: LocalTarHeaders;
}

/** Where the context came from: a local folder read in place, or a tar whose headers were kept. */
export interface ChecksumOrigin {
  local?: LocalChecksumOptions;
  tarHeaders?: ContextTarHeaders;
}

/**
 * The checksum COPY/ADD's cache key takes of its sources: every selected file and what is
 * under a selected directory — its path, type, permission bits, owner, size, link target and
 * its content's digest — never mtimes, so touching a file or checking it out again keeps the
 * cache. A regular file's digest is its tarsum (moby's, of the header the client sent, or for
 * a local folder of the one the docker CLI would send, whose owner 0:0 is also the owner
 * hashed), so the same folder sent by the docker CLI or read in place gives the same key; a
 * file without such a header (a second hard link) is hashed by its content alone. Symlinks
 * below a source are hashed as links (COPY copies them so); in a local context one pointing
 * out of it is refused, as berth build's tar with one is when received.
 */
export function checksumSources(rootFd: number, patterns: readonly string[], what: string, origin: ChecksumOrigin = {}): string {
  const { local } = origin;
  const hash = createHash('sha256');
  const now = Date.now();
  for (const pattern of patterns) {
    hash.update(`pattern\0${pattern}\0`);
    for (const source of selectSources(rootFd, pattern, what, local?.filter)) {
      try {
        // Links are judged from where the source really is (a selected path may go through one).
        hashEntry(hash, source.fd, source.rel, source.real, origin, now);
      } finally {
        closeFd(source.fd);
      }
    }
  }
  return hash.digest('hex');
}

function hashEntry(hash: Hash, fd: number, rel: string, real: string, origin: ChecksumOrigin, now: number): void {
  const { local } = origin;
  const st = fstatSync(fd, { bigint: true });
  const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : st.isFIFO() ? 'p' : 'o';
  hash.update(`${rel}\0${type}\0${(Number(st.mode) & 0o7777).toString(8)}\0${local ? '0:0' : `${st.uid}:${st.gid}`}\0`);
  if (type === 'l') {
    const target = native.readlinkat(fd, '');
    if (local && symlinkLeaves(real, target)) throw new SourceError(`forbidden path outside the build context: ${rel} -> ${target} (a symlink leads out of it)`);
    hash.update(`${target}\0`);
  } else if (type === 'f') {
    hash.update(`${st.size}\0${contentDigest(fd, real, st, origin, now)}\0`);
  } else if (type === 'd') {
    for (const name of native.readdirFd(fd).sort()) {
      const childRel = `${rel}/${name}`;
      const childReal = real === '' ? name : `${real}/${name}`;
      if (local && !local.filter.includes(childReal)) continue;
      const child = lstatChild(fd, name);
      if (!child) continue;
      try {
        hashEntry(hash, child.fd, childRel, childReal, origin, now);
      } finally {
        closeFd(child.fd);
      }
    }
  }
}

/**
 * A regular file's tarsum, which covers its content: a local file's (as the CLI's tar would
 * give it) is also COPY's history, one read for both, kept across builds. A second name of a
 * linked file has no content in its tarsum: its content's sha256 then.
 */
function contentDigest(fd: number, real: string, st: BigIntStats, origin: ChecksumOrigin, now: number): string {
  if (origin.local) {
    if (origin.local.headers.header(real, fd, st)?.typeflag === '0') return `tarsum:${origin.local.headers.sum(real, fd, st)}`;
  } else if (origin.tarHeaders) {
    const h = origin.tarHeaders.get(tarsumKey(real));
    if (h?.typeflag === '0' && h.size === Number(st.size)) return `tarsum:${entrySum(h, fd, '', '')}`;
  }
  return fileDigest(fd, st, origin.local?.digests, now);
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
