import { fstatSync } from 'node:fs';
import { errnoCode, failedPrecondition } from '../../errors';
import { native } from '../../native';
import { closeFd, openHostDir, readTextInRoot } from '../../util/fs-at';
import { contextFilter, includeFilter, parseIgnoreFile } from '../dockerfile/dockerignore';
import { LOCAL_CONTEXT_REFUSED, type ContextPathFilter } from '../types';

/** A client's context folder: its absolute path, and its device and inode as the client stat'ed it. */
export interface LocalContextClaim {
  path: string;
  dev: string;
  ino: string;
}

export interface LocalContext {
  /** The folder as `/proc/self/fd/<fd>`: the inode checked, whatever is renamed over the path afterwards. */
  path: string;
  filter: ContextPathFilter;
  close(): void;
}

/**
 * Opens a client's own context folder for a build in place. The client only claims a path;
 * the daemon opens it and compares its (dev, ino) with what the client saw, so a client in
 * another mount namespace or root (where the same path is another folder) is refused with
 * LOCAL_CONTEXT_REFUSED and sends a tar instead. The build then reads the folder through this
 * fd only, beneath it (RESOLVE_BENEATH: no symlink or `..` leads out), with
 * `<Dockerfile>.dockerignore` or `.dockerignore` applied with docker's semantics.
 */
export function openLocalContext(claim: LocalContextClaim, dockerfile: string): LocalContext {
  let fd: number;
  try {
    fd = openHostDir(claim.path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') throw failedPrecondition(`${LOCAL_CONTEXT_REFUSED}: ${claim.path} is not a folder on the daemon's host`);
    throw err;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (String(st.dev) !== claim.dev || String(st.ino) !== claim.ino) {
      throw failedPrecondition(`${LOCAL_CONTEXT_REFUSED}: ${claim.path} is another folder on the daemon's host than the client's`);
    }
    return { path: `/proc/self/fd/${fd}`, filter: ignoreFilter(fd, dockerfile), close: () => closeFd(fd) };
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

/** The context's ignore rules (BuildKit's `<Dockerfile>.dockerignore` first), as berth build applies them to a tar. */
function ignoreFilter(contextFd: number, dockerfile: string): ContextPathFilter {
  const text = readTextInRoot(contextFd, `${dockerfile}.dockerignore`) ?? readTextInRoot(contextFd, '.dockerignore');
  if (text === undefined) return { includes: () => true };
  const rules = contextFilter(parseIgnoreFile(text));
  const include = includeFilter(rules, new Set(), (rel) => isDirectoryBeneath(contextFd, rel));
  return { includes: include };
}

function isDirectoryBeneath(rootFd: number, rel: string): boolean {
  const C = native.constants;
  let fd: number;
  try {
    fd = native.openat2(rootFd, rel, C.O_PATH | C.O_NOFOLLOW, 0, C.RESOLVE_BENEATH | C.RESOLVE_NO_MAGICLINKS);
  } catch {
    return false;
  }
  try {
    return fstatSync(fd).isDirectory();
  } finally {
    closeFd(fd);
  }
}
