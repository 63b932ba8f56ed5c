import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Snapshotter } from './types';
import { mountAll, unmountAll } from './mount';
import { closeFd, openHostDir } from '../util/fs-at';
import { isNotFound } from '../errors';

/** Label on a view `withView` made; one left by a crash is removed at start. */
export const VIEW_LABEL = 'berth.io/view';
const VIEW_KEY_PREFIX = 'view-';

/**
 * Runs `fn` with an O_PATH fd of a read-only view of the committed snapshot `parent`
 * (snapshotter.view, mounted at `<mountRoot>/<key>`), then unmounts the view and removes
 * it, whatever `fn` did. While the view exists its parent cannot be removed. The fd is the
 * only way in: paths inside the view come from an image, so callers resolve them on it
 * (openInRoot), never as host paths.
 */
export async function withView<T>(snapshotter: Snapshotter, parent: string, mountRoot: string, fn: (rootFd: number) => Promise<T>): Promise<T> {
  const key = `${VIEW_KEY_PREFIX}${randomBytes(8).toString('hex')}`;
  const target = path.join(mountRoot, key);
  const mounts = await snapshotter.view(key, parent, { labels: { [VIEW_LABEL]: '' } });
  try {
    await fs.mkdir(target, { recursive: true, mode: 0o700 });
    mountAll(mounts, target);
    try {
      const rootFd = openHostDir(target);
      try {
        return await fn(rootFd);
      } finally {
        closeFd(rootFd);
      }
    } finally {
      await unmountAll(target);
    }
  } finally {
    await fs.rmdir(target).catch(() => undefined);
    await snapshotter.remove(key).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

/** Removes the views a crash left (their mounts, unmounted first, live under `mountRoot`). */
export async function removeAbandonedViews(snapshotter: Snapshotter, mountRoot: string): Promise<string[]> {
  const abandoned: string[] = [];
  await snapshotter.walk((info) => {
    if (info.kind === 'view' && info.labels[VIEW_LABEL] !== undefined) abandoned.push(info.name);
  });
  for (const key of abandoned) {
    const target = path.join(mountRoot, key);
    await unmountAll(target);
    await fs.rmdir(target).catch(() => undefined);
    await snapshotter.remove(key);
  }
  return abandoned;
}
