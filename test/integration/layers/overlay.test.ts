import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlayLayerStore } from '../../../src/snapshots/overlay/layer-store';
import { OverlayRootfsStore, listMountsUnder } from '../../../src/snapshots/overlay/rootfs-store';
import { tarBuffer, tarStreamOf, bufferOf } from '../../../src/archive/tar/test-tar';
import { treeSnapshot } from '../../../src/archive/tar/tree-snapshot';
import { digestOf } from '../../../src/util/digest';
import { isInvalidArgument } from '../../../src/errors';
import { Readable } from 'node:stream';
import { native, UnmountFlags } from '../../../src/native';

const skip = process.getuid?.() !== 0 ? 'needs root for overlay mounts' : false;

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-'));
  const layers = new OverlayLayerStore(path.join(dir, 'layers'));
  await fs.mkdir(path.join(dir, 'layers'));
  await layers.init();
  const rootfs = new OverlayRootfsStore(path.join(dir, 'rootfs'), layers);
  await rootfs.init();
  t.after(async () => {
    for (const m of await listMountsUnder(dir)) native.umount(m, UnmountFlags.MNT_DETACH);
    await fs.rm(dir, { recursive: true, force: true });
  });
  return { dir, layers, rootfs };
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

  await rootfs.create('c1', l2.chainId);
  await rootfs.create('c1', l2.chainId); // idempotent
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

  // The RW layer, committed as a layer, reproduces the merged view.
  const diff = await bufferOf(rootfs.diffTar('c1'));
  const l3 = await layers.apply(l2.chainId, Readable.from([diff]));
  await rootfs.create('c2', l3.chainId);
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
  await rootfs.create('scratch', null);
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
  await rootfs.create('tall', parent);
  const merged = await rootfs.mount('tall');
  assert.equal((await fs.readdir(merged)).length, 60);
  await rootfs.unmount('tall');
});

test('init() cleans crash leftovers', { skip }, async (t) => {
  const { dir, layers, rootfs } = await setup(t);
  const layersRoot = path.join(dir, 'layers');
  await fs.mkdir(path.join(layersRoot, '.tmp-deadbeef/diff'), { recursive: true });
  const half = path.join(layersRoot, 'a'.repeat(64));
  await fs.mkdir(path.join(half, 'diff'), { recursive: true });
  await fs.symlink('../' + 'b'.repeat(64) + '/diff', path.join(layersRoot, 'l', 'DANGLING'));
  const good = await layers.apply(null, tarStreamOf([{ name: 'x', body: 'x' }]));
  await fs.mkdir(path.join(dir, 'rootfs/.tmp-rm-c9/upper'), { recursive: true });
  await layers.init();
  await rootfs.init();
  assert.deepEqual((await fs.readdir(layersRoot)).sort(), ['l', good.chainId.slice(7)].sort());
  assert.equal((await fs.readdir(path.join(layersRoot, 'l'))).length, 1);
  assert.deepEqual(await fs.readdir(path.join(dir, 'rootfs')), []);
});

test('a failed apply leaves nothing behind', { skip }, async (t) => {
  const { dir, layers } = await setup(t);
  await assert.rejects(layers.apply(null, tarStreamOf([{ name: '../x', body: 'x' }])), (err: unknown) => isInvalidArgument(err));
  assert.deepEqual(await fs.readdir(path.join(dir, 'layers')), ['l']);
  assert.deepEqual(await fs.readdir(path.join(dir, 'layers', 'l')), []);
});
