import type { SnapshotInfo, Snapshotter } from './types';
import { DIFF_ID_LABEL } from './unpacker';
import { CONTAINER_LABEL } from './container-snapshots';
import { isNotFound } from '../errors';

/** One snapshot as a garbage collector sees it (the shape of metadata/gc's CollectableItem). */
export interface SnapshotItem {
  key: string;
  /** Removed only after every snapshot naming it as parent. */
  parent: string | null;
  size: number;
  labels: Record<string, string>;
}

/**
 * A slice of the snapshotter as the garbage collector's small interface (list, stat,
 * remove), built on walk and remove: `layerSnapshots` are the committed image layers keyed
 * by chain ID, `containerSnapshots` the containers' RW layers keyed by container id.
 * Snapshots an unpack or a commit is filling belong to neither: they are that operation's
 * until it ends, and removed at start if a crash ended it. remove is idempotent, and
 * refused (FailedPrecondition) while another snapshot is based on the key.
 */
export class CollectableSnapshots {
  constructor(
    private readonly snapshotter: Snapshotter,
    private readonly includes: (info: SnapshotInfo) => boolean,
  ) {}

  async list(): Promise<SnapshotItem[]> {
    const infos: SnapshotInfo[] = [];
    await this.snapshotter.walk((info) => {
      if (this.includes(info)) infos.push(info);
    });
    const items: SnapshotItem[] = [];
    for (const info of infos) {
      const item = await this.itemOf(info);
      if (item) items.push(item);
    }
    return items;
  }

  async stat(key: string): Promise<SnapshotItem | undefined> {
    try {
      const info = await this.snapshotter.stat(key);
      return this.includes(info) ? await this.itemOf(info) : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await this.snapshotter.remove(key).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  private async itemOf(info: SnapshotInfo): Promise<SnapshotItem | undefined> {
    try {
      const { size } = await this.snapshotter.usage(info.name);
      return { key: info.name, parent: info.parent, size, labels: info.labels };
    } catch (err) {
      if (isNotFound(err)) return undefined; // removed meanwhile
      throw err;
    }
  }
}

export const layerSnapshots = (snapshotter: Snapshotter) =>
  new CollectableSnapshots(snapshotter, (info) => info.kind === 'committed' && info.labels[DIFF_ID_LABEL] !== undefined);

export const containerSnapshots = (snapshotter: Snapshotter) =>
  new CollectableSnapshots(snapshotter, (info) => info.kind === 'active' && info.labels[CONTAINER_LABEL] !== undefined);
