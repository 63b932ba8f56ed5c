import { createHash } from 'node:crypto';
import { fstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { native } from '../../native';
import { closeFd, lstatChild, openBeneath, openInRoot } from '../../util/fs-at';
import { selectSources } from './context-sources';
import type { ContextPathFilter } from '../types';
import { LocalTarHeaders } from './local-tar-headers';
import { entrySum, type TarsumHeader } from './tarsum';

export type { TarsumHeader } from './tarsum';

/** Context path (as tarsum keys it: cleaned, relative, no trailing `/`) → its header as received. */
export type ContextTarHeaders = ReadonlyMap<string, TarsumHeader>;

const TYPEFLAGS: Record<string, string> = { file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6', 'contiguous-file': '7' };

/** tarsum's key of an entry name: path.Join(".", path.Join("/", name)). */
export function tarsumKey(name: string): string {
  const clean = path.posix.normalize(`/${name}`).replace(/\/+$/, '');
  return clean === '' ? '.' : clean.slice(1);
}

/** A tar-stream header as tarsum sees it (uname/gname are left out by tarsum itself). */
export function tarsumHeader(h: { name: string; mode?: number; uid?: number; gid?: number; size?: number; type?: string | null; linkname?: string | null; devmajor?: number; devminor?: number; pax?: unknown }): TarsumHeader {
  const xattrs = Object.entries((h.pax ?? {}) as Record<string, string>)
    .filter(([k]) => k.startsWith('SCHILY.xattr.'))
    .map(([k, v]): [string, string] => [k.slice('SCHILY.xattr.'.length), v]);
  return { name: h.name, mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0, typeflag: TYPEFLAGS[h.type ?? 'file'] ?? '0', linkname: h.linkname ?? '', devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0, xattrs };
}

/**
 * The source part of COPY/ADD's history as dockerd 20.10's classic builder writes it
 * (builder/dockerfile/copy.go): `file:<sum>` for a file, `dir:<sha256 of the sorted sums of
 * everything beneath it>` for a directory, and `multi:<sha256 of the sources' parts>` for
 * several. A sum is the tarsum (v1) of the entry: its header fields then its content. For a
 * context that came as a tar, the headers are the ones sent (`headers`), uname/gname left
 * out as tarsum does; for a local folder, the ones the docker CLI would send for it
 * (LocalTarHeaders, so both give the same history); for an image's or stage's root (moby's lazy source) they are made from
 * the files as archive.FileInfoHeader does, with user and group names of the daemon's host.
 */
export function copySourceHistory(rootFd: number, patterns: readonly string[], what: string, headers: ContextTarHeaders | LocalTarHeaders | undefined, names: 'host' | 'none', filter?: ContextPathFilter): string {
  const parts: string[] = [];
  const nameCache = new Map<string, Map<number, string>>();
  const hostName = (file: string, id: number): string => lookupName(nameCache, file, id);
  const sum = (rel: string, fd: number, st: Stats): string => {
    if (headers !== undefined) {
      const own = rel === '' ? '.' : rel;
      const key = followInTar(headers, own);
      const h = headers.get(key);
      // moby's Hash falls back to the path itself for what the tar did not list.
      if (!h) return rel;
      if (headers instanceof LocalTarHeaders) return (key === own ? headers.sum(key, fd, fstatSync(fd, { bigint: true })) : headers.sumOf(key)) ?? rel;
      if (key === own) return entrySum(h, fd, '', '');
      const target = openBeneath(rootFd, key);
      try {
        return entrySum(h, target, '', '');
      } finally {
        closeFd(target);
      }
    }
    // moby's lazySource.Hash sums the path reached (FollowSymlinkInScope): a link as its target's entry.
    if (st.isSymbolicLink()) {
      const reached = followInRoot(rootFd, rel);
      if (reached) {
        try {
          return rootSum(reached.rel, reached.fd, fstatSync(reached.fd));
        } finally {
          closeFd(reached.fd);
        }
      }
    }
    return rootSum(rel, fd, st);
  };
  const rootSum = (rel: string, fd: number, st: Stats): string =>
    entrySum(headerFromStat(rel, fd, st), fd, names === 'host' ? hostName('/etc/passwd', st.uid) : '', names === 'host' ? hostName('/etc/group', st.gid) : '');
  for (const pattern of patterns) {
    for (const source of selectSources(rootFd, pattern, what, filter)) {
      try {
        const st = fstatSync(source.fd);
        if (!st.isDirectory()) {
          // moby hashes the path reached (FollowSymlinkInScope): the real one when a folder on the way is a link.
          parts.push(`file:${sum(source.real, source.fd, st)}`);
          continue;
        }
        const sums: string[] = [];
        if (source.real !== '') sums.push(sum(source.real, source.fd, st));
        walk(source.fd, source.real, filter, (real, fd, childSt) => sums.push(sum(real, fd, childSt)));
        parts.push(`dir:${sha256(sums.sort().join(','))}`);
      } finally {
        closeFd(source.fd);
      }
    }
  }
  return parts.length === 1 ? parts[0] : `multi:${sha256(parts.join(','))}`;
}

/**
 * archiveContext.Hash takes the sum of the followed path (FollowSymlinkInScope): a link's
 * target, resolved inside the context, or the link's own path when that target is missing.
 */
function followInTar(headers: ContextTarHeaders | LocalTarHeaders, key: string): string {
  let current = key;
  for (let hops = 0; hops < 255; hops++) {
    const h = headers.get(current);
    if (!h || h.typeflag !== '2') return current;
    const base = h.linkname.startsWith('/') ? h.linkname : `${path.posix.dirname(current)}/${h.linkname}`;
    current = tarsumKey(base);
  }
  return current;
}

/** A link's target inside the root (absolute links from the root, never out of it), with its path there; undefined when it leads nowhere. */
function followInRoot(rootFd: number, rel: string): { fd: number; rel: string } | undefined {
  let fd: number;
  try {
    fd = openInRoot(rootFd, rel);
  } catch {
    return undefined;
  }
  const root = readlinkSync(`/proc/self/fd/${rootFd}`);
  const reached = path.relative(root, readlinkSync(`/proc/self/fd/${fd}`));
  if (reached.startsWith('..') || path.isAbsolute(reached)) {
    closeFd(fd);
    return undefined;
  }
  return { fd, rel: reached };
}

/** Everything beneath a directory (by its real path in the root), without following links; in a local context only what .dockerignore leaves in. */
function walk(dirFd: number, realPrefix: string, filter: ContextPathFilter | undefined, visit: (real: string, fd: number, st: Stats) => void): void {
  for (const name of native.readdirFd(dirFd)) {
    const real = realPrefix === '' ? name : `${realPrefix}/${name}`;
    if (filter && !filter.includes(real)) continue;
    const child = lstatChild(dirFd, name);
    if (!child) continue;
    try {
      visit(real, child.fd, child.st);
      if (child.st.isDirectory()) walk(child.fd, real, filter, visit);
    } finally {
      closeFd(child.fd);
    }
  }
}

/** archive.FileInfoHeader: permission and set-id bits with Go 1.8's file type bits, dirs named with `/`. */
function headerFromStat(rel: string, fd: number, st: Stats): TarsumHeader {
  const type = st.isDirectory() ? '5' : st.isSymbolicLink() ? '2' : st.isFIFO() ? '6' : st.isCharacterDevice() ? '3' : st.isBlockDevice() ? '4' : '0';
  const isDev = type === '3' || type === '4';
  return {
    name: st.isDirectory() ? `${rel}/` : rel,
    mode: st.mode & 0o177777,
    uid: st.uid,
    gid: st.gid,
    size: type === '0' ? st.size : 0,
    typeflag: type,
    linkname: type === '2' ? native.readlinkat(fd, '') : '',
    devmajor: isDev ? Math.floor(st.rdev / 256) & 0xfff : 0,
    devminor: isDev ? (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) : 0,
    xattrs: [],
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Go's user.LookupId/LookupGroupId on the daemon's host (a name, or "" when there is none). */
function lookupName(nameCache: Map<string, Map<number, string>>, file: string, id: number): string {
  let ids = nameCache.get(file);
  if (!ids) {
    ids = new Map();
    try {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && /^\d+$/.test(f[2]) && !ids.has(Number(f[2]))) ids.set(Number(f[2]), f[0]);
      }
    } catch {
      // no file: no names
    }
    nameCache.set(file, ids);
  }
  return ids.get(id) ?? '';
}
