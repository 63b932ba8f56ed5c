import { promises as fs, mkdirSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Change, ContainerSnapshots, Layer, LocalSnapshotter } from './types';
import type { SnapshotUnpacker } from './unpacker';
import type { Digest } from '../util/digest';
import { KeyedMutex } from '../util/mutex';
import { extractLayer } from '../archive/tar/extract';
import { packDirectory } from '../archive/tar/pack';
import { conflict, errnoCode, invalidArgument, isENOENT, isNotFound, notFound } from '../errors';
import { mountAll, unmountAll } from './mount';
import { overlayChanges } from './overlay/changes';
import { dropRuntimeMade, InitEntry } from './overlay/init-entries';
import { isMountPointQuick } from './overlay/mountinfo';
import { removeAbandonedViews, withView } from './view-mount';
import { removeTree } from '../util/remove-tree';

/** Label on a container's active snapshot: the container id. */
export const CONTAINER_LABEL = 'berth.io/container';
/** Label on an active snapshot a container commit is filling; one left by a crash is abandoned work. */
export const COMMIT_LABEL = 'berth.io/commit';

/**
 * Containers' root file systems as active snapshots on a local snapshotter
 * (`ContainerSnapshots`): prepare(id, chain) is the snapshotter's prepare with the container
 * label; its mounts are mounted at `<mountRoot>/<id>/merged`. `docker diff` and the RW size
 * read the snapshot's upper dir, with no mount.
 */
export class LocalContainerSnapshots implements ContainerSnapshots {
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly snapshotter: LocalSnapshotter,
    private readonly layers: SnapshotUnpacker,
    /** Where mount points live (`<data-root>/rootfs`, as before snapshots, so running containers keep theirs). */
    readonly mountRoot: string,
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.mountRoot, { recursive: true, mode: 0o710 });
  }

  prepare(id: string, parent: Digest | null, options: { durable?: boolean } = {}): Promise<void> {
    checkId(id);
    return this.locks.run(id, async () => {
      const existing = await this.snapshotter.stat(id).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (existing) {
        if (existing.kind === 'active' && existing.parent === parent) return;
        throw conflict(`rootfs ${id} already exists with another parent`);
      }
      if (parent !== null && !(await this.layers.get(parent))) throw notFound(`layer ${parent} does not exist`);
      await this.snapshotter.prepare(id, parent, { labels: { [CONTAINER_LABEL]: id }, durable: options.durable });
    });
  }

  mount(id: string, options: { volatile?: boolean } = {}): Promise<string> {
    checkId(id);
    return this.locks.run(id, async () => {
      const mounts = await this.snapshotter.mounts(id);
      const target = this.mountPoint(id);
      if (await isMountPointQuick(target)) return target;
      mkdirSync(target, { recursive: true, mode: 0o755 });
      // A volatile upper is refused at its next mount (overlay's incompat/volatile marker):
      // only for a root that is never mounted again, removed after its run.
      const [only] = mounts;
      if (options.volatile && mounts.length === 1 && only?.type === 'overlay') {
        try {
          mountAll([{ ...only, options: [...only.options, 'volatile'] }], target);
          return target;
        } catch (err) {
          if (errnoCode(err) !== 'EINVAL') throw err; // EINVAL: a kernel before 5.10, without the option
        }
      }
      mountAll(mounts, target);
      return target;
    });
  }

  unmount(id: string, options: { remountable?: boolean } = {}): Promise<void> {
    checkId(id);
    return this.locks.run(id, async () => {
      await unmountAll(this.mountPoint(id));
      // overlay's mark of a volatile mount: <workdir>/work/incompat/volatile (fs/overlayfs/super.c).
      if (options.remountable) await removeTree(path.join(await this.snapshotter.workDirOf(id), 'work', 'incompat'));
    });
  }

  remove(id: string, options: { durable?: boolean } = {}): Promise<void> {
    checkId(id);
    return this.locks.run(id, async () => {
      await unmountAll(this.mountPoint(id));
      // The snapshot and the (empty) mount point dirs are independent: both at once.
      await Promise.all([
        this.snapshotter.remove(id, options).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        }),
        removeMountDirs(path.join(this.mountRoot, id)),
      ]);
    });
  }

  mountPoint(id: string): string {
    return path.join(this.mountRoot, id, 'merged');
  }

  /**
   * Runs `fn` on an O_PATH fd of a read-only view of layer `chainId` (an image as it was
   * committed, without any container's changes), removed afterwards: volume copy-up reads
   * the image through it. Views are mounted under `<mountRoot>/.views` (no container id
   * starts with a dot).
   */
  withLayerView<T>(chainId: Digest, fn: (rootFd: number) => Promise<T>): Promise<T> {
    return withView(this.snapshotter, chainId, this.viewRoot, fn);
  }

  private get viewRoot(): string {
    return path.join(this.mountRoot, '.views');
  }

  /** Host paths of a rootfs's overlay parts (inspect's GraphDriver data). */
  async paths(id: string): Promise<{ upper: string; work: string; merged: string; lower: string[] }> {
    checkId(id);
    return {
      upper: await this.snapshotter.upperDir(id),
      work: await this.snapshotter.workDirOf(id),
      merged: this.mountPoint(id),
      lower: await this.snapshotter.lowerDirs(id),
    };
  }

  async changes(id: string): Promise<Change[]> {
    checkId(id);
    return overlayChanges(await this.snapshotter.upperDir(id), await this.snapshotter.lowerDirs(id), DOCKER_INIT_ENTRIES);
  }

  async rwSize(id: string): Promise<number> {
    checkId(id);
    return (await this.snapshotter.usage(id)).size;
  }

  /**
   * Commits a container's changes as a new layer on its image, while it keeps running: its
   * upper dir is copied into a new active snapshot on the same parent, less the mount points
   * the runtime made (Docker's init layer holds those, under the RW layer), which is committed
   * as a layer (`SnapshotUnpacker.commitActive`: diff ID from its streamed tar, no blob).
   */
  async commitChanges(id: string): Promise<{ layer: Layer; tarSize: number }> {
    checkId(id);
    const info = await this.snapshotter.stat(id);
    const parent = info.parent as Digest | null;
    const key = `commit-${id.slice(0, 12)}-${randomBytes(6).toString('hex')}`;
    await this.snapshotter.prepare(key, parent, { labels: { [COMMIT_LABEL]: id } });
    try {
      const target = await this.snapshotter.upperDir(key);
      await extractLayer(packDirectory(await this.snapshotter.upperDir(id), { whiteouts: 'overlay-to-wh' }), target, { whiteouts: 'overlay' });
      // Docker commits the RW layer over its init layer: the mount points are not in it.
      dropRuntimeMade(target, await this.snapshotter.lowerDirs(key), DOCKER_INIT_ENTRIES);
      return await this.layers.commitActive(key);
    } finally {
      await this.snapshotter.remove(key).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  /** Every container id with an active snapshot. */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    await this.snapshotter.walk((info) => {
      if (info.kind === 'active' && info.labels[CONTAINER_LABEL] !== undefined) ids.push(info.name);
    });
    return ids.sort();
  }

  /** Removes container commits and views a crash interrupted. */
  async removeAbandoned(): Promise<string[]> {
    const views = await removeAbandonedViews(this.snapshotter, this.viewRoot);
    const commits: string[] = [];
    await this.snapshotter.walk((info) => {
      if (info.kind === 'active' && info.labels[COMMIT_LABEL] !== undefined) commits.push(info.name);
    });
    for (const key of commits) await this.snapshotter.remove(key);
    return [...views, ...commits];
  }
}

/**
 * A container's `<mount root>/<id>/merged`: two rmdirs when they are empty, as they are once
 * unmounted (synchronous: microseconds, where the thread pool is busy with the task's cgroups
 * at that moment); else removeTree, which never enters a mount left there.
 */
async function removeMountDirs(dir: string): Promise<void> {
  try {
    try {
      rmdirSync(path.join(dir, 'merged'));
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    rmdirSync(dir);
  } catch (err) {
    if (isENOENT(err)) return;
    await removeTree(dir);
  }
}

/**
 * What dockerd's init layer (moby's daemon/initlayer) puts under every container's RW
 * layer: mount points and the files it bind-mounts. Berth's runtime makes the ones it needs
 * in the RW layer itself, so `diff` takes them as below it, as Docker's does.
 */
const DOCKER_INIT_ENTRIES: ReadonlyMap<string, InitEntry> = new Map<string, InitEntry>([
  ['/dev', { made: 'dir' }],
  ['/proc', { made: 'dir' }],
  ['/sys', { made: 'dir' }],
  ['/etc', { made: 'dir' }],
  ['/etc/resolv.conf', { made: 'file' }],
  ['/etc/hosts', { made: 'file' }],
  ['/etc/hostname', { made: 'file' }],
  // Docker's init layer has these too; berth's runtime makes them in /dev's tmpfs or not at all.
  ['/dev/pts', { made: null }],
  ['/dev/shm', { made: null }],
  ['/dev/console', { made: null }],
  ['/.dockerenv', { made: null }],
  ['/etc/mtab', { made: null }],
]);

/** Ids become path components: no separators. */
function checkId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id) || id.length > 128) throw invalidArgument(`invalid rootfs id ${JSON.stringify(id)}`);
}
