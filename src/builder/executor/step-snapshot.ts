import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LocalSnapshotter } from '../../snapshots/types';
import type { SnapshotUnpacker } from '../../snapshots/unpacker';
import { mountAll, unmountAll } from '../../snapshots/mount';
import { isNotFound } from '../../errors';
import type { Digest } from '../../util/digest';
import { closeFd, openHostDir } from '../../util/fs-at';
import { removeTree } from '../../util/remove-tree';

/** Label on a build step's active snapshot; one a crash left is removed at the next start. */
export const BUILD_STEP_LABEL = 'berth.io/build-step';

export interface StepSnapshotDeps {
  snapshotter: LocalSnapshotter;
  layers: SnapshotUnpacker;
  /** Where step snapshots are mounted (`<data-root>/builder/mounts`). */
  mountRoot: string;
  makeProtected<L extends { chainId: Digest }>(make: () => Promise<L>): Promise<L>;
}

/**
 * A COPY/ADD/WORKDIR step: an active snapshot on the parent layer, mounted (so the parent's
 * directories, owners and symlinks are seen as the container will see them) and handed to
 * `write` as a directory fd, then unmounted and committed as a layer (diff ID from its
 * deterministic tar, no blob). Whatever happens, the active snapshot and its mount go.
 */
export async function withStepSnapshot(deps: StepSnapshotDeps, parent: Digest | null, write: (rootFd: number) => Promise<void>): Promise<{ chainId: Digest; diffId: Digest; tarSize: number }> {
  const key = `build-${randomBytes(8).toString('hex')}`;
  const target = path.join(deps.mountRoot, key);
  await deps.snapshotter.prepare(key, parent, { labels: { [BUILD_STEP_LABEL]: key } });
  try {
    await fs.mkdir(target, { recursive: true, mode: 0o700 });
    mountAll(await deps.snapshotter.mounts(key), target);
    try {
      const rootFd = openHostDir(target);
      try {
        await write(rootFd);
      } finally {
        closeFd(rootFd);
      }
    } finally {
      await unmountAll(target);
      await removeTree(target);
    }
    return await deps.makeProtected(async () => {
      const { layer, tarSize } = await deps.layers.commitActive(key);
      return { chainId: layer.chainId, diffId: layer.diffId, tarSize };
    });
  } finally {
    await deps.snapshotter.remove(key).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

/**
 * The executor's work root at daemon start: scratch files, step snapshots and mounts a
 * crash left behind are removed. Here, not in the executor, so the daemon can run it
 * without loading the executor (loaded on the first build).
 */
export async function prepareWorkRoot(workRoot: string, snapshotter: LocalSnapshotter): Promise<void> {
  await fs.mkdir(workRoot, { recursive: true, mode: 0o700 });
  await fs.chmod(workRoot, 0o700);
  await fs.rm(path.join(workRoot, 'tmp'), { recursive: true, force: true });
  await fs.mkdir(path.join(workRoot, 'tmp'), { recursive: true, mode: 0o700 });
  await removeAbandonedSteps(snapshotter, path.join(workRoot, 'mounts'));
}

/** Removes step snapshots and mounts a crash left behind (daemon start). */
async function removeAbandonedSteps(snapshotter: LocalSnapshotter, mountRoot: string): Promise<void> {
  const keys: string[] = [];
  await snapshotter.walk((info) => {
    if (info.kind === 'active' && info.labels[BUILD_STEP_LABEL] !== undefined) keys.push(info.name);
  });
  await fs.mkdir(mountRoot, { recursive: true, mode: 0o700 });
  for (const name of await fs.readdir(mountRoot)) {
    await unmountAll(path.join(mountRoot, name)).catch(() => undefined);
    await removeTree(path.join(mountRoot, name));
  }
  for (const key of keys) await snapshotter.remove(key);
}
