import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../util/logger';
import { pathExists } from '../util/path-exists';

/**
 * Modes of the data root and its stores, as Docker keeps /var/lib/docker: only root may list
 * or read images, layers and containers (a layer or a committed container may hold secrets).
 * 0710 where Docker allows traversal by the root group (snapshots, rootfs, containers).
 */
export const DATA_ROOT_MODE = 0o711;
export const STORE_MODES: Readonly<Record<string, number>> = {
  content: 0o700,
  images: 0o700,
  snapshots: 0o710,
  rootfs: 0o710,
  containers: 0o710,
  volumes: 0o700,
  layers: 0o700, // the layout before snapshots, until it is migrated
};

/** In content/: every file under it was made private by a complete walk. */
const FILES_CLOSED_MARKER = '.files-private';

/**
 * Sets the modes above on every start, so stores made by an older berth (content/ 0755,
 * blobs 0644) are closed too, and makes every content file 0600 (on the first start, and
 * again whenever content/ was found open). Returns how many entries changed.
 */
export async function secureDataRoot(dataRoot: string, logger: Logger): Promise<number> {
  let changed = 0;
  const setMode = async (target: string, mode: number): Promise<boolean> => {
    const stat = await fs.lstat(target).catch(() => undefined);
    if (!stat || stat.isSymbolicLink() || (stat.mode & 0o7777) === mode) return false;
    await fs.chmod(target, mode);
    changed++;
    return true;
  };
  await setMode(dataRoot, DATA_ROOT_MODE);
  let contentWasOpen = false;
  for (const [name, mode] of Object.entries(STORE_MODES)) {
    if ((await setMode(path.join(dataRoot, name), mode)) && name === 'content') contentWasOpen = true;
  }
  // Walking every blob costs seconds at 10k images: once done, it is done again only when
  // content/ was found open (a berth that wrote 0644 blobs ran on this root since).
  const content = path.join(dataRoot, 'content');
  const marker = path.join(content, FILES_CLOSED_MARKER);
  if (contentWasOpen || !(await pathExists(marker))) {
    changed += await privateFiles(content);
    if (await pathExists(content)) await fs.writeFile(marker, '', { mode: 0o600 });
  }
  if (changed > 0) logger.info('closed the permissions of the data root', { dataRoot, changed });
  return changed;
}

/** Removes group and other bits from every regular file under `dir` (blobs and ingests). */
async function privateFiles(dir: string): Promise<number> {
  let changed = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      changed += await privateFiles(full);
    } else if (entry.isFile()) {
      const stat = await fs.lstat(full);
      if ((stat.mode & 0o077) !== 0) {
        await fs.chmod(full, stat.mode & 0o700);
        changed++;
      }
    }
  }
  return changed;
}
