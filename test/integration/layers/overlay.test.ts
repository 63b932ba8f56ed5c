import { needsRoot } from '../../helpers/root';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { SnapshotUnpacker, digestStream } from '../../../src/snapshots/unpacker';
import { containerSnapshots, layerSnapshots } from '../../../src/snapshots/collectable';
import { LocalContainerSnapshots } from '../../../src/snapshots/container-snapshots';
import { listMountsUnder } from '../../../src/snapshots/overlay/mountinfo';
import { mountAll } from '../../../src/snapshots/mount';
import { tarBuffer, tarStreamOf } from '../../../src/archive/tar/test-tar';
import { treeSnapshot } from '../../../src/archive/tar/tree-snapshot';
import { digestOf } from '../../../src/util/digest';
import { errorKind, isInvalidArgument } from '../../../src/errors';
import { Readable } from 'node:stream';
import { native, UnmountFlags } from '../../../src/native';

const skip = needsRoot('needs root for overlay mounts');

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-'));
  const snapshotter = new OverlaySnapshotter(path.join(dir, 'snapshots'));
  await snapshotter.init();
  const layers = new SnapshotUnpacker(snapshotter);
  const rootfs = new LocalContainerSnapshots(snapshotter, layers, path.join(dir, 'rootfs'));
  await rootfs.init();
  t.after(async () => {
    for (const m of await listMountsUnder(dir)) native.umount(m, UnmountFlags.MNT_DETACH);
    await fs.rm(dir, { recursive: true, force: true });
  });
  return { dir, snapshotter, layers, rootfs };
}

const base = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/hostname', body: 'base\n' },
  { name: 'etc/removed', body: 'gone soon\n' },
  { name: 'opt/', type: 'directory' as const },
  { name: 'opt/old-a', body: 'a' },
  { name: 'opt/old-b', body: 'b' },
  { name: 'bin/', type: 'directory' as const },
  { name: 'bin/sh', body: '#!/bin/sh\n', mode: 0o755 },
];
const top = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/.wh.removed' },
  { name: 'opt/', type: 'directory' as const },
  { name: 'opt/.wh..wh..opq' },
  { name: 'opt/new', body: 'n' },
];

test('layers with whiteouts and an opaque dir, a rootfs over them, changes and diff', { skip }, async (t) => {
  const { layers, rootfs } = await setup(t);
  const baseTar = tarBuffer(base);
  const l1 = await layers.apply(null, Readable.from([baseTar]), digestOf(baseTar));
  assert.equal(l1.chainId, digestOf(baseTar));
  assert.equal(l1.parent, null);
  assert.equal(l1.size, 5 + 10 + 1 + 1 + 10);
  const l2 = await layers.apply(l1.chainId, tarStreamOf(top));
  assert.equal(l2.chainId, digestOf(`${l1.chainId} ${l2.diffId}`));
  assert.deepEqual((await layers.list()).map((l) => l.chainId).sort(), [l1.chainId, l2.chainId].sort());
  const again = await layers.apply(null, Readable.from([baseTar]));
  assert.deepEqual(again, l1);
  await assert.rejects(layers.apply(null, Readable.from([baseTar]), digestOf('other')), (err: unknown) => isInvalidArgument(err));

  const lowers = await layers.lowerDirs(l2.chainId);
  assert.equal(lowers.length, 2);

  await rootfs.prepare('c1', l2.chainId);
  await rootfs.prepare('c1', l2.chainId); // idempotent
  const merged = await rootfs.mount('c1');
  assert.equal(await rootfs.mount('c1'), merged);
  assert.equal((await listMountsUnder(merged)).length, 1);
  assert.deepEqual((await fs.readdir(path.join(merged, 'etc'))).sort(), ['hostname']);
  assert.deepEqual(await fs.readdir(path.join(merged, 'opt')), ['new']);

  await fs.writeFile(path.join(merged, 'etc/hostname'), 'changed\n');
  await fs.mkdir(path.join(merged, 'srv/data'), { recursive: true });
  await fs.writeFile(path.join(merged, 'srv/data/f'), 'f');
  await fs.rm(path.join(merged, 'bin/sh'));
  await fs.rm(path.join(merged, 'opt'), { recursive: true });
  await fs.mkdir(path.join(merged, 'opt'));
  await fs.writeFile(path.join(merged, 'opt/fresh'), 'x');

  assert.deepEqual(await rootfs.changes('c1'), [
    { Path: '/bin', Kind: 0 },
    { Path: '/bin/sh', Kind: 2 },
    // Docker reports a parent only for an added or deleted child, or when its own
    // mtime changed: writing an existing file leaves /etc as copied up.
    { Path: '/etc/hostname', Kind: 0 },
    { Path: '/opt', Kind: 2 },
    { Path: '/opt/fresh', Kind: 1 },
    { Path: '/srv', Kind: 1 },
    { Path: '/srv/data', Kind: 1 },
    { Path: '/srv/data/f', Kind: 1 },
  ]);

  // The RW layer, committed as a layer (its whiteouts through a tar and back), reproduces the merged view.
  const l3 = (await rootfs.commitChanges('c1')).layer;
  await rootfs.prepare('c2', l3.chainId);
  const merged2 = await rootfs.mount('c2');
  assert.deepEqual(await treeSnapshot(merged2, { mtimes: false }), await treeSnapshot(merged, { mtimes: false }));
  assert.deepEqual(await rootfs.changes('c2'), []);

  assert.deepEqual(await rootfs.list(), ['c1', 'c2']);
  await rootfs.unmount('c1');
  await rootfs.unmount('c1');
  assert.deepEqual(await listMountsUnder(merged), []);
  await rootfs.remove('c1');
  await rootfs.remove('c1');
  await rootfs.remove('c2');
  assert.deepEqual(await rootfs.list(), []);
  await layers.remove(l3.chainId);
  await layers.remove(l3.chainId);
  assert.equal(await layers.get(l3.chainId), undefined);
});

test('a scratch rootfs mounts over an empty lower dir', { skip }, async (t) => {
  const { rootfs } = await setup(t);
  await rootfs.prepare('scratch', null);
  const merged = await rootfs.mount('scratch');
  await fs.writeFile(path.join(merged, 'hello'), 'hi');
  assert.deepEqual(await rootfs.changes('scratch'), [{ Path: '/hello', Kind: 1 }]);
  await rootfs.remove('scratch');
  assert.deepEqual(await listMountsUnder(merged), []);
});

test('many layers fit in one mount', { skip }, async (t) => {
  const { layers, rootfs } = await setup(t);
  let parent = null;
  for (let i = 0; i < 60; i++) {
    parent = (await layers.apply(parent, tarStreamOf([{ name: `f${i}`, body: String(i) }]))).chainId;
  }
  assert.ok(parent);
  await rootfs.prepare('tall', parent);
  const merged = await rootfs.mount('tall');
  assert.equal((await fs.readdir(merged)).length, 60);
  await rootfs.unmount('tall');
});

test('an unpack or a commit a crash interrupted is removed at start; a failed apply leaves nothing', { skip }, async (t) => {
  const { snapshotter, layers, rootfs } = await setup(t);
  const good = await layers.apply(null, tarStreamOf([{ name: 'x', body: 'x' }]));
  await snapshotter.prepare('unpack-dead', good.chainId, { labels: { 'berth.io/unpack': '' } });
  await snapshotter.prepare('commit-dead', good.chainId, { labels: { 'berth.io/commit': 'c' } });
  await rootfs.prepare('c', good.chainId);
  assert.deepEqual(await layers.removeAbandoned(), ['unpack-dead']);
  assert.deepEqual(await rootfs.removeAbandoned(), ['commit-dead']);
  const names: string[] = [];
  await snapshotter.walk((i) => {
    names.push(i.name);
  });
  assert.deepEqual(names.sort(), ['c', good.chainId].sort());

  await assert.rejects(layers.apply(good.chainId, tarStreamOf([{ name: '../x', body: 'x' }])), (err: unknown) => isInvalidArgument(err));
  await assert.rejects(layers.apply(null, tarStreamOf([{ name: 'y', body: 'y' }]), digestOf('other')), (err: unknown) => isInvalidArgument(err));
  const after: string[] = [];
  await snapshotter.walk((i) => {
    after.push(i.name);
  });
  assert.deepEqual(after.sort(), names.sort());
  // A layer with a container on it stays.
  await assert.rejects(layers.remove(good.chainId), (err: unknown) => errorKind(err) === 'FailedPrecondition');
});

test('commit of a container: its changes become a layer with no blob, and the differ makes the same tar again', { skip }, async (t) => {
  const { layers, rootfs } = await setup(t);
  const l1 = await layers.apply(null, Readable.from([tarBuffer(base)]));
  const l2 = await layers.apply(l1.chainId, tarStreamOf(top));
  await rootfs.prepare('running', l2.chainId);
  const merged = await rootfs.mount('running');
  await fs.writeFile(path.join(merged, 'etc/hostname'), 'committed\n');
  await fs.rm(path.join(merged, 'bin/sh'));
  await fs.rm(path.join(merged, 'opt'), { recursive: true });
  await fs.mkdir(path.join(merged, 'opt'));
  await fs.writeFile(path.join(merged, 'opt/fresh'), 'x');
  await fs.writeFile(path.join(merged, 'big'), Buffer.alloc(300_000, 7));
  await fs.link(path.join(merged, 'big'), path.join(merged, 'big-link'));

  const { layer, tarSize } = await rootfs.commitChanges('running');
  assert.equal(layer.parent, l2.chainId);
  assert.equal(layer.chainId, digestOf(`${l2.chainId} ${layer.diffId}`));
  // The container still runs on its own snapshot, and keeps writing.
  await fs.writeFile(path.join(merged, 'after-commit'), 'not in the layer');
  const again = await digestStream(await layers.layerTar(layer.chainId));
  assert.deepEqual(again, { digest: layer.diffId, size: tarSize });
  assert.deepEqual(await digestStream(await layers.layerTar(layer.chainId)), again, 'the differ is deterministic');

  await rootfs.prepare('from-commit', layer.chainId);
  const view = await rootfs.mount('from-commit');
  await fs.rm(path.join(merged, 'after-commit'));
  assert.deepEqual(await treeSnapshot(view, { mtimes: false }), await treeSnapshot(merged, { mtimes: false }));
  assert.deepEqual(await rootfs.changes('from-commit'), []);
  // The layer, applied from its tar elsewhere, has the same diff ID.
  const other = await setup(t);
  const o1 = await other.layers.apply(null, Readable.from([tarBuffer(base)]));
  const o2 = await other.layers.apply(o1.chainId, tarStreamOf(top));
  const o3 = await other.layers.apply(o2.chainId, await layers.layerTar(layer.chainId), layer.diffId);
  assert.equal(o3.chainId, layer.chainId);
});

test('a build step writes straight into an active snapshot and commits it; the GC sees layers and container roots apart', { skip }, async (t) => {
  const { snapshotter, layers, rootfs } = await setup(t);
  const l1 = await layers.apply(null, Readable.from([tarBuffer(base)]));
  // COPY: files written into the active snapshot's directory, no tar in between.
  await snapshotter.prepare('build-step', l1.chainId);
  const upper = await snapshotter.upperDir('build-step');
  await fs.mkdir(path.join(upper, 'app'));
  await fs.writeFile(path.join(upper, 'app/main.js'), 'console.log(1)\n');
  const { layer, tarSize } = await layers.commitActive('build-step');
  assert.equal(layer.parent, l1.chainId);
  assert.deepEqual(await digestStream(await layers.layerTar(layer.chainId)), { digest: layer.diffId, size: tarSize });
  await rootfs.prepare('c', layer.chainId);
  await snapshotter.prepare('unpack-in-progress', layer.chainId, { labels: { 'berth.io/unpack': '' } });

  const layerView = layerSnapshots(snapshotter);
  const rootfsView = containerSnapshots(snapshotter);
  assert.deepEqual(
    (await layerView.list()).map((i) => [i.key, i.parent]).sort(),
    [
      [l1.chainId, null],
      [layer.chainId, l1.chainId],
    ].sort(),
  );
  assert.deepEqual(await rootfsView.list(), [{ key: 'c', parent: layer.chainId, size: 0, labels: { 'berth.io/container': 'c' } }]);
  assert.equal((await layerView.stat(l1.chainId))?.size, 27);
  assert.equal(await layerView.stat('c'), undefined, 'a container root is not a layer');
  assert.equal(await rootfsView.stat('unpack-in-progress'), undefined, 'an unpack belongs to neither');
  await assert.rejects(layerView.remove(layer.chainId), (err: unknown) => errorKind(err) === 'FailedPrecondition');
  await rootfsView.remove('c');
  await rootfsView.remove('c');
  await snapshotter.remove('unpack-in-progress');
  await layerView.remove(layer.chainId);
  assert.equal(await layerView.stat(layer.chainId), undefined);
});

test('a layer view shows the image alone, read-only, and is released after; one a crash left mounted goes at start', { skip }, async (t) => {
  const { dir, snapshotter, layers, rootfs } = await setup(t);
  const l1 = await layers.apply(null, Readable.from([tarBuffer(base)]));
  const l2 = await layers.apply(l1.chainId, tarStreamOf(top));
  await rootfs.prepare('c', l2.chainId);
  await fs.writeFile(path.join(await rootfs.mount('c'), 'etc/hostname'), 'the container`s\n');
  const viewRoot = path.join(dir, 'rootfs', '.views');

  const seen = await rootfs.withLayerView(l2.chainId, async (rootFd) => {
    const hostname = await fs.readFile(`/proc/self/fd/${rootFd}/etc/hostname`, 'utf8');
    await assert.rejects(fs.stat(`/proc/self/fd/${rootFd}/etc/removed`), { code: 'ENOENT' }, 'the layers merged, whiteouts applied');
    const write = fs.writeFile(`/proc/self/fd/${rootFd}/etc/new`, 'x');
    await assert.rejects(write, { code: 'EROFS' });
    assert.equal((await listMountsUnder(viewRoot)).length, 1, 'mounted while in use');
    return hostname;
  });
  assert.equal(seen, 'base\n', 'the image`s file, not the container`s change');
  assert.deepEqual(await listMountsUnder(viewRoot), [], 'unmounted after');
  const kinds: string[] = [];
  await snapshotter.walk((i) => {
    kinds.push(i.kind);
  });
  assert.ok(!kinds.includes('view'), 'the view snapshot is removed');

  // A crash while a view was mounted: its snapshot and mount go at the next start.
  const mounts = await snapshotter.view('view-dead', l2.chainId, { labels: { 'berth.io/view': '' } });
  await fs.mkdir(path.join(viewRoot, 'view-dead'), { recursive: true });
  mountAll(mounts, path.join(viewRoot, 'view-dead'));
  await assert.rejects(layers.remove(l2.chainId), (err: unknown) => errorKind(err) === 'FailedPrecondition', 'a view holds its layer');
  assert.deepEqual(await rootfs.removeAbandoned(), ['view-dead']);
  assert.deepEqual(await listMountsUnder(viewRoot), []);
  await rootfs.remove('c');
  await layers.remove(l2.chainId);
});

test('applyAhead extracts a layer before its parent exists and commits it onto the parent: the same layer and view as apply', { skip }, async (t) => {
  const { layers, rootfs, snapshotter } = await setup(t);
  const baseTar = tarBuffer(base);
  const topTar = tarBuffer(top);
  let releaseParent!: (chain: string | null) => void;
  const parentReady = new Promise<string | null>((resolve) => (releaseParent = resolve));
  // The top layer (whiteouts, an opaque dir) is extracted first, while its parent is not even started.
  const ahead = layers.applyAhead(parentReady as Promise<`sha256:${string}` | null>, Readable.from([topTar]), digestOf(topTar));
  const l1 = await layers.apply(null, Readable.from([baseTar]), digestOf(baseTar));
  releaseParent(l1.chainId);
  const l2 = await ahead;
  assert.equal(l2.parent, l1.chainId);
  assert.equal(l2.chainId, digestOf(`${l1.chainId} ${digestOf(topTar)}`));
  assert.equal((await snapshotter.stat(l2.chainId)).parent, l1.chainId);
  await rootfs.prepare('c1', l2.chainId);
  const merged = await rootfs.mount('c1');
  assert.deepEqual((await fs.readdir(path.join(merged, 'etc'))).sort(), ['hostname']);
  assert.deepEqual(await fs.readdir(path.join(merged, 'opt')), ['new']);
  await rootfs.unmount('c1');
  await rootfs.remove('c1');
  // A parent that removal must now refuse, as for any child.
  await assert.rejects(layers.remove(l1.chainId), (err: unknown) => errorKind(err) === 'FailedPrecondition');

  // A diff ID mismatch fails before the parent is awaited; a failed parent fails the child; neither leaves a snapshot.
  await assert.rejects(layers.applyAhead(new Promise(() => undefined), Readable.from([topTar]), digestOf('other')), (err: unknown) => isInvalidArgument(err));
  await assert.rejects(layers.applyAhead(Promise.reject(new Error('parent failed')), Readable.from([topTar]), digestOf(topTar)), /parent failed/);
  const keys: string[] = [];
  await snapshotter.walk((info) => void keys.push(info.name));
  assert.deepEqual(keys.sort(), [l1.chainId, l2.chainId].sort());
  // Only a base snapshot can be committed onto a parent.
  await snapshotter.prepare('k', l1.chainId);
  await assert.rejects(snapshotter.commit('n', 'k', { parent: l1.chainId }), (err: unknown) => errorKind(err) === 'FailedPrecondition');
});
