import { createHash, type Hash } from 'node:crypto';
import { fstatSync, readSync } from 'node:fs';
import { native } from '../../native';
import { closeFd, lstatChild, openForReading } from '../../util/fs-at';
import { selectSources } from './context-sources';

const CHUNK = 1024 * 1024;
const buffer = Buffer.allocUnsafe(CHUNK);

/**
 * The checksum COPY/ADD's cache key takes of its sources: every selected file and what is
 * under a selected directory — its path, type, permission bits, owner, size, link target and
 * content — never mtimes, so touching a file or checking it out again keeps the cache.
 * Symlinks below a source are hashed as links (COPY copies them so).
 */
export function checksumSources(rootFd: number, patterns: readonly string[], what: string): string {
  const hash = createHash('sha256');
  for (const pattern of patterns) {
    hash.update(`pattern\0${pattern}\0`);
    for (const source of selectSources(rootFd, pattern, what)) {
      try {
        hashEntry(hash, source.fd, source.rel);
      } finally {
        closeFd(source.fd);
      }
    }
  }
  return hash.digest('hex');
}

function hashEntry(hash: Hash, fd: number, rel: string): void {
  const st = fstatSync(fd);
  const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : st.isFIFO() ? 'p' : 'o';
  hash.update(`${rel}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}:${st.gid}\0`);
  if (type === 'l') hash.update(`${native.readlinkat(fd, '')}\0`);
  else if (type === 'f') {
    hash.update(`${st.size}\0`);
    const readable = openForReading(fd);
    try {
      for (let n; (n = readSync(readable, buffer, 0, CHUNK, null)) > 0; ) hash.update(buffer.subarray(0, n));
    } finally {
      closeFd(readable);
    }
  } else if (type === 'd') {
    for (const name of native.readdirFd(fd).sort()) {
      const child = lstatChild(fd, name);
      if (!child) continue;
      try {
        hashEntry(hash, child.fd, `${rel}/${name}`);
      } finally {
        closeFd(child.fd);
      }
    }
  }
}
