import { needsRoot } from '../../helpers/root';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { migrateLegacyLayout } from '../../../src/snapshots/overlay/legacy-layout';
import { SnapshotUnpacker } from '../../../src/snapshots/unpacker';
import { LocalContainerSnapshots } from '../../../src/snapshots/container-snapshots';
import { listMountsUnder, isMountPoint } from '../../../src/snapshots/overlay/mountinfo';
import { digestOf } from '../../../src/util/digest';
import { native, UnmountFlags } from '../../../src/native';

const skip = needsRoot('needs root for overlay mounts');

/**
 * Writes a data root the way berth did before snapshots (layers/<hex>/{diff,layer.json},
 * layers/l/<short>, rootfs/<id>/{upper,work,merged,rootfs.json}), with its container's
 * overlay mounted as if it were running.
 */
async function legacyDataRoot(dataRoot: string) {
  const diff1 = digestOf('layer one');
  const diff2 = digestOf('layer two');
  const chain1 = diff1;
  const chain2 = digestOf(`${chain1} ${diff2}`);
  const layers = path.join(dataRoot, 'layers');
  await fs.mkdir(path.join(layers, 'l'), { recursive: true });
  const layer = async (chainId: string, diffId: string, parent: string | null, link: string, files: (dir: string) => Promise<void>) => {
    const dir = path.join(layers, chainId.slice(7));
    await fs.mkdir(path.join(dir, 'diff'), { recursive: true });
    await files(path.join(dir, 'diff'));
    await fs.writeFile(path.join(dir, 'layer.json'), JSON.stringify({ chainId, diffId, parent, size: 3, link }));
    await fs.symlink(`../${chainId.slice(7)}/diff`, path.join(layers, 'l', link));
  };
  await layer(chain1, diff1, null, 'aaaaaaaaaaaa', async (d) => {
    await fs.mkdir(path.join(d, 'etc'));
    await fs.writeFile(path.join(d, 'etc/hostname'), 'one\n');
    await fs.writeFile(path.join(d, 'etc/removed'), 'gone\n');
  });
  await layer(chain2, diff2, chain1, 'bbbbbbbbbbbb', async (d) => {
    await fs.mkdir(path.join(d, 'etc'));
    native.mknod(path.join(d, 'etc/removed'), 0o020000, 0, 0); // a whiteout
    await fs.writeFile(path.join(d, 'two'), 'two');
  });
  await fs.mkdir(path.join(layers, '.tmp-0123/diff'), { recursive: true }); // a crash leftover

  const id = 'c'.repeat(64);
  const c = path.join(dataRoot, 'rootfs', id);
  for (const sub of ['upper', 'work', 'merged']) await fs.mkdir(path.join(c, sub), { recursive: true });
  await fs.writeFile(path.join(c, 'rootfs.json'), JSON.stringify({ parent: chain2 }));
  await fs.writeFile(path.join(c, 'upper/written-before'), 'before');
  const lower = [path.join(layers, 'l/bbbbbbbbbbbb'), path.join(layers, 'l/aaaaaaaaaaaa')].join(':');
  native.mount('overlay', path.join(c, 'merged'), 'overlay', 0, `lowerdir=${lower},upperdir=${path.join(c, 'upper')},workdir=${path.join(c, 'work')},index=off`);
  return { chain1, chain2, diff1, diff2, id, merged: path.join(c, 'merged') };
}

test('a data root of the old layout moves into snapshots, even across a crash, and a running container keeps its mount', { skip }, async (t) => {
  const dataRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'blg-'));
  t.after(async () => {
    for (const m of await listMountsUnder(dataRoot)) native.umount(m, UnmountFlags.MNT_DETACH);
    await fs.rm(dataRoot, { recursive: true, force: true });
  });
  const old = await legacyDataRoot(dataRoot);
  const snapshotsRoot = path.join(dataRoot, 'snapshots');

  // Killed after the first rename: the next start finishes the plan.
  await assert.rejects(
    migrateLegacyLayout(dataRoot, snapshotsRoot, {
      afterMove: (n) => {
        if (n === 2) throw new Error('killed');
      },
    }),
    /killed/,
  );
  assert.ok((await fs.readdir(dataRoot)).includes('snapshots-migration.json'));
  assert.deepEqual(await migrateLegacyLayout(dataRoot, snapshotsRoot), { layers: 2, containers: 1 });
  assert.deepEqual(await migrateLegacyLayout(dataRoot, snapshotsRoot), { layers: 0, containers: 0 }, 'a second start has nothing to do');
  assert.deepEqual((await fs.readdir(dataRoot)).sort(), ['rootfs', 'snapshots']);
  assert.deepEqual(await fs.readdir(path.join(dataRoot, 'rootfs', old.id)), ['merged']);

  const snapshotter = new OverlaySnapshotter(snapshotsRoot);
  await snapshotter.init();
  const layers = new SnapshotUnpacker(snapshotter);
  const rootfs = new LocalContainerSnapshots(snapshotter, layers, path.join(dataRoot, 'rootfs'));
  await rootfs.init();
  assert.deepEqual(
    (await layers.list()).map((l) => [l.chainId, l.diffId, l.parent]),
    [
      [old.chain1, old.diff1, null],
      [old.chain2, old.diff2, old.chain1],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
  );
  assert.deepEqual(await rootfs.list(), [old.id]);

  // The "running" container's mount still works, and writes land in its snapshot.
  assert.equal(rootfs.mountPoint(old.id), old.merged);
  assert.ok(await isMountPoint(old.merged));
  await fs.writeFile(path.join(old.merged, 'written-after'), 'after');
  assert.equal(await fs.readFile(path.join(await snapshotter.upperDir(old.id), 'written-after'), 'utf8'), 'after');
  assert.deepEqual(await rootfs.changes(old.id), [
    { Path: '/written-after', Kind: 1 },
    { Path: '/written-before', Kind: 1 },
  ]);

  // Stopped and started again: mounted from the snapshotter's own mounts.
  await rootfs.unmount(old.id);
  const merged = await rootfs.mount(old.id);
  assert.deepEqual((await fs.readdir(merged)).sort(), ['etc', 'two', 'written-after', 'written-before']);
  assert.deepEqual(await fs.readdir(path.join(merged, 'etc')), ['hostname']);
  await rootfs.remove(old.id);
  await layers.remove(old.chain2);
  await layers.remove(old.chain1);
  assert.deepEqual(await layers.list(), []);
});
