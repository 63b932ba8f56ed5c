import { needsRoot } from '../../helpers/root';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { DIFF_ID_LABEL, SnapshotUnpacker } from '../../../src/snapshots/unpacker';
import { LocalContainerSnapshots } from '../../../src/snapshots/container-snapshots';
import { isMountPoint } from '../../../src/snapshots/overlay/mountinfo';
import { digestOf } from '../../../src/util/digest';

const skip = needsRoot('needs root for overlay mounts');

/** A container root on a one-file layer, as create makes one. */
async function containerRoot(t: { after(fn: () => Promise<void>): void }) {
  const dataRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-volatile-'));
  const snapshotter = new OverlaySnapshotter(path.join(dataRoot, 'snapshots'));
  await snapshotter.init();
  const layers = new SnapshotUnpacker(snapshotter);
  const rootfs = new LocalContainerSnapshots(snapshotter, layers, path.join(dataRoot, 'rootfs'));
  await rootfs.init();
  const chainId = digestOf('layer');
  await snapshotter.prepare('extract', null);
  await fs.writeFile(path.join(await snapshotter.upperDir('extract'), 'from-layer'), 'x');
  await snapshotter.commit(chainId, 'extract', { labels: { [DIFF_ID_LABEL]: chainId } });
  const id = 'a'.repeat(64);
  await rootfs.prepare(id, chainId, { durable: false });
  t.after(async () => {
    await rootfs.remove(id).catch(() => undefined);
    await fs.rm(dataRoot, { recursive: true, force: true });
  });
  return { rootfs, id };
}

test('a volatile root unmounted as remountable mounts again; without that the kernel refuses it', { skip }, async (t) => {
  const { rootfs, id } = await containerRoot(t);
  const merged = await rootfs.mount(id, { volatile: true });
  await fs.writeFile(path.join(merged, 'written'), 'y');
  const { work } = await rootfs.paths(id);
  assert.ok(await fs.stat(path.join(work, 'work', 'incompat', 'volatile')).then(() => true, () => false), "overlay's volatile mark is there");
  await rootfs.unmount(id, { remountable: true });
  assert.equal(await isMountPoint(merged), false);

  // Mounted again (as start does), with what was written under the volatile mount.
  const again = await rootfs.mount(id);
  assert.equal(await fs.readFile(path.join(again, 'written'), 'utf8'), 'y');
  assert.equal(await fs.readFile(path.join(again, 'from-layer'), 'utf8'), 'x');
  await rootfs.unmount(id);

  // A plain unmount keeps the mark, and the kernel refuses the next mount: what remountable avoids.
  await rootfs.mount(id, { volatile: true });
  await rootfs.unmount(id);
  await assert.rejects(rootfs.mount(id), (err: NodeJS.ErrnoException) => err.code === 'EINVAL');
});
