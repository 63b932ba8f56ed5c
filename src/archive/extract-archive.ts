import { fstatSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { conflict, errnoCode, invalidArgument, notFound } from '../errors';
import { RootWalk } from '../util/fs-at';
import { extractAt } from './tar/extract';

export interface ExtractArchiveOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (noOverwriteDirNonDir query flag). */
  noOverwriteDirNonDir?: boolean;
  /** Keep the tar's uid/gid (docker cp -a); otherwise files belong to root (0:0), as Docker does. */
  copyUIDGID?: boolean;
}

/**
 * PUT /containers/{id}/archive: extracts `tar` into the directory `destPath` of the
 * container root `rootFd`. destPath is resolved in the root (symlinks followed, never out
 * of it) to a directory fd, which the whole extraction then works from, so a container
 * swapping destPath for a symlink meanwhile changes nothing. `.wh.` names are ordinary
 * files here.
 */
export async function extractArchive(rootFd: number, destPath: string, tar: Readable, opts: ExtractArchiveOptions = {}): Promise<void> {
  const dest = RootWalk.at(rootFd);
  try {
    try {
      dest.walk(destPath);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw notFound(destPath, err);
      throw err;
    }
    if (!fstatSync(dest.fd).isDirectory()) throw invalidArgument('extraction point is not a directory');
    try {
      await extractAt(tar, dest, {
        whiteouts: 'literal',
        noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
        chownTo: opts.copyUIDGID ? undefined : { uid: 0, gid: 0 },
      });
    } catch (err) {
      // The container removed or replaced what we were extracting into.
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EEXIST') throw conflict(`${destPath} changed in the container while extracting`, err);
      throw err;
    }
  } catch (err) {
    tar.resume();
    throw err;
  } finally {
    dest.close();
  }
}
