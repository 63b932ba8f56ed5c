import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { native } from '../native';
import { errnoCode, invalidArgument, isENOENT, notFound } from '../errors';
import { extractLayer } from './tar/extract';

export interface ExtractArchiveOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (noOverwriteDirNonDir query flag). */
  noOverwriteDirNonDir?: boolean;
  /** Keep the tar's uid/gid (docker cp -a); otherwise files belong to root (0:0), as Docker does. */
  copyUIDGID?: boolean;
}

/**
 * PUT /containers/{id}/archive: extracts `tar` into the directory `destPath` of the
 * container root `root`. destPath is resolved in root (symlinks followed) and must be an
 * existing directory; every entry stays inside root. `.wh.` names are ordinary files here.
 */
export async function extractArchive(root: string, destPath: string, tar: Readable, opts: ExtractArchiveOptions = {}): Promise<void> {
  const dest = native.resolveInRoot(root, destPath);
  let isDir: boolean;
  try {
    isDir = (await fs.stat(dest)).isDirectory();
  } catch (err) {
    if (isENOENT(err) || errnoCode(err) === 'ENOTDIR') throw notFound(destPath, err);
    throw err;
  }
  if (!isDir) throw invalidArgument('extraction point is not a directory');
  await extractLayer(tar, dest, {
    whiteouts: 'literal',
    root,
    noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
    chownTo: opts.copyUIDGID ? undefined : { uid: 0, gid: 0 },
  });
}
