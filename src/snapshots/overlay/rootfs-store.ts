import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Change, LayerStore, RootfsStore } from '../types';
import type { Digest } from '../../util/digest';
import { readJsonIfExists, writeJsonAtomic, fsyncDir } from '../../util/atomic-fs';
import { KeyedMutex } from '../../util/mutex';
import { packDirectory } from '../../archive/tar/pack';
import { directorySize } from '../../util/directory-size';
import { native, UnmountFlags } from '../../native';
import { conflict, errnoCode, failedPrecondition, invalidArgument, isENOENT, notFound } from '../../errors';
import { overlayChanges } from './changes';
import { isMountPoint } from './mountinfo';

export { listMountsUnder } from './mountinfo';

/**
 * Container root file systems on overlayfs:
 *   <root>/<id>/upper/       the RW layer
 *   <root>/<id>/work/        overlay's work dir
 *   <root>/<id>/merged/      the mount point
 *   <root>/<id>/empty/       the lower dir of a scratch (no layer) rootfs
 *   <root>/<id>/rootfs.json  { parent }
 * A rootfs is created in <root>/.tmp-<...> and renamed into place; removal renames it
 * back to a temp name first, so init() can finish what a crash interrupted.
 */
interface RootfsRecord {
  parent: Digest | null;
}

const TEMP_PREFIX = '.tmp-';
/** overlay's mount data must fit in one page, NUL included. */
const MAX_MOUNT_DATA = 4095;

export class OverlayRootfsStore implements RootfsStore {
  private readonly locks = new KeyedMutex();

  constructor(
    readonly root: string,
    private readonly layers: LayerStore,
  ) {}

  /** Creates the root and removes temp dirs left by a crash. Does not touch mounts (see listMountsUnder). */
  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o710 });
    for (const name of await fs.readdir(this.root)) {
      if (name.startsWith(TEMP_PREFIX)) await fs.rm(path.join(this.root, name), { recursive: true, force: true });
    }
  }

  create(id: string, parent: Digest | null): Promise<void> {
    checkId(id);
    return this.locks.run(id, async () => {
      const existing = await this.record(id);
      if (existing) {
        if (existing.parent === parent) return;
        throw conflict(`rootfs ${id} already exists with another parent`);
      }
      if (parent !== null && !(await this.layers.get(parent))) throw notFound(`layer ${parent} does not exist`);
      const tmp = path.join(this.root, `${TEMP_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
      try {
        for (const sub of ['upper', 'work', 'merged', ...(parent === null ? ['empty'] : [])]) {
          await fs.mkdir(path.join(tmp, sub), { recursive: true, mode: 0o755 });
        }
        await writeJsonAtomic(path.join(tmp, 'rootfs.json'), { parent } satisfies RootfsRecord);
        await fs.rename(tmp, this.dir(id));
        await fsyncDir(this.root);
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    });
  }

  mount(id: string): Promise<string> {
    checkId(id);
    return this.locks.run(id, async () => {
      const record = await this.mustRecord(id);
      const target = this.mountPoint(id);
      if (await isMountPoint(target)) return target;
      const lowers = await this.lowerDirs(id, record);
      const data = `lowerdir=${lowers.join(':')},upperdir=${this.sub(id, 'upper')},workdir=${this.sub(id, 'work')},index=off`;
      if (Buffer.byteLength(data) > MAX_MOUNT_DATA) {
        throw failedPrecondition(`too many layers to mount rootfs ${id}: overlay options are ${Buffer.byteLength(data)} bytes, over one page`);
      }
      native.mount('overlay', target, 'overlay', 0, data);
      return target;
    });
  }

  unmount(id: string): Promise<void> {
    checkId(id);
    return this.locks.run(id, () => unmountAll(this.mountPoint(id)));
  }

  remove(id: string): Promise<void> {
    checkId(id);
    return this.locks.run(id, async () => {
      await unmountAll(this.mountPoint(id));
      const doomed = path.join(this.root, `${TEMP_PREFIX}rm-${id}`);
      await fs.rm(doomed, { recursive: true, force: true });
      try {
        await fs.rename(this.dir(id), doomed);
      } catch (err) {
        if (isENOENT(err)) return;
        throw err;
      }
      // The rename made the removal final; deleting the files need not hold up the caller
      // (init() finishes it after a crash).
      void fs.rm(doomed, { recursive: true, force: true }).catch(() => undefined);
    });
  }

  mountPoint(id: string): string {
    return this.sub(id, 'merged');
  }

  /** Host paths of a rootfs's overlay parts (inspect's GraphDriver data). */
  paths(id: string): { upper: string; work: string; merged: string } {
    checkId(id);
    return { upper: this.sub(id, 'upper'), work: this.sub(id, 'work'), merged: this.sub(id, 'merged') };
  }

  /** The lower dirs the rootfs is mounted over, topmost first. */
  async lowerDirsOf(id: string): Promise<string[]> {
    checkId(id);
    return this.lowerDirs(id, await this.mustRecord(id));
  }

  async changes(id: string): Promise<Change[]> {
    checkId(id);
    const record = await this.mustRecord(id);
    const lowers = record.parent === null ? [] : await this.layers.lowerDirs(record.parent);
    return overlayChanges(this.sub(id, 'upper'), lowers);
  }

  rwSize(id: string): Promise<number> {
    checkId(id);
    return directorySize(this.sub(id, 'upper'));
  }

  diffTar(id: string): Readable {
    checkId(id);
    return packDirectory(this.sub(id, 'upper'), { whiteouts: 'overlay-to-wh' });
  }

  async list(): Promise<string[]> {
    const ids: string[] = [];
    for (const name of (await fs.readdir(this.root)).sort()) {
      if (!name.startsWith(TEMP_PREFIX) && (await this.record(name))) ids.push(name);
    }
    return ids;
  }

  private async lowerDirs(id: string, record: RootfsRecord): Promise<string[]> {
    return record.parent === null ? [this.sub(id, 'empty')] : this.layers.lowerDirs(record.parent);
  }

  private dir(id: string): string {
    return path.join(this.root, id);
  }

  private sub(id: string, name: string): string {
    return path.join(this.root, id, name);
  }

  private record(id: string): Promise<RootfsRecord | undefined> {
    return readJsonIfExists<RootfsRecord>(path.join(this.dir(id), 'rootfs.json'));
  }

  private async mustRecord(id: string): Promise<RootfsRecord> {
    const record = await this.record(id);
    if (!record) throw notFound(`rootfs ${id} does not exist`);
    return record;
  }
}

/** Ids become path components and overlay options: no separators, commas or colons. */
function checkId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id) || id.length > 128) throw invalidArgument(`invalid rootfs id ${JSON.stringify(id)}`);
}

/** Unmounts `target` until nothing is mounted there; lazily (MNT_DETACH) when it is busy. Idempotent. */
async function unmountAll(target: string): Promise<void> {
  for (let attempt = 0; attempt < 8 && (await isMountPoint(target)); attempt++) {
    try {
      native.umount(target, 0);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EBUSY') native.umount(target, UnmountFlags.MNT_DETACH);
      else if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
    }
  }
  if (await isMountPoint(target)) throw failedPrecondition(`cannot unmount ${target}`);
}
