import { createHash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { closeFd, openForReading } from '../../util/fs-at';

/** The tar header fields moby's tarsum (Version1) hashes for an entry, as a context tar sent them. */
export interface TarsumHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Array<[string, string]>;
}

const CHUNK = 1024 * 1024;
const buffer = Buffer.allocUnsafe(CHUNK);

/**
 * tarsum v1 of one entry: "name…mode…uid…gid…size…typeflag…linkname…uname…gname…devmajor…devminor…"
 * + xattrs, then the content of a regular file (read from the O_PATH fd `fd`). moby's
 * encodeHeader blanks uname/gname for a received tar; its lazy sources keep the host's names.
 */
export function entrySum(h: TarsumHeader, fd: number, uname: string, gname: string): string {
  const hash = createHash('sha256');
  const fields: Array<[string, string]> = [
    ['name', h.name], ['mode', String(h.mode)], ['uid', String(h.uid)], ['gid', String(h.gid)], ['size', String(h.size)], ['typeflag', h.typeflag],
    ['linkname', h.linkname], ['uname', uname], ['gname', gname], ['devmajor', String(h.devmajor)], ['devminor', String(h.devminor)],
    ...[...h.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ];
  for (const [k, v] of fields) hash.update(k + v);
  if ((h.typeflag === '0' || h.typeflag === '7') && h.size > 0) hashContent(hash, fd);
  return hash.digest('hex');
}

function hashContent(hash: Hash, pathFd: number): void {
  const fd = openForReading(pathFd);
  try {
    for (let n; (n = readSync(fd, buffer, 0, CHUNK, null)) > 0; ) hash.update(buffer.subarray(0, n));
  } finally {
    closeFd(fd);
  }
}
