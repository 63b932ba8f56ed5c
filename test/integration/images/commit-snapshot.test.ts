import { needsRoot } from '../../helpers/root';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalContainerSnapshots } from '../../../src/snapshots/container-snapshots';
import { listMountsUnder } from '../../../src/snapshots/overlay/mountinfo';
import { native, UnmountFlags } from '../../../src/native';
import { errorKind } from '../../../src/errors';
import { collect, harness, makeTar, readTar, type Harness } from './helpers';

const skip = needsRoot('needs root for overlay mounts');

/** A container's rootfs on a one-layer image, mounted, with changes; `fn` runs with it, then it is unmounted. */
async function withContainer(h: Harness, fn: (c: { base: Awaited<ReturnType<Harness['service']['resolve']>>; rootfs: LocalContainerSnapshots }) => Promise<void>) {
  const baseId = await h.service.importTarball(
    Readable.from([await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', data: 'base\n' }, { name: 'etc/gone', data: 'x' }])]),
    { repo: 'base', tag: '1' },
  );
  const base = await h.service.resolve(baseId);
  const rootfs = new LocalContainerSnapshots(h.layers.snapshotter, h.layers, path.join(h.root, 'rootfs'));
  await rootfs.init();
  await rootfs.prepare('c1', await h.service.ensureUnpacked(base));
  try {
    const merged = await rootfs.mount('c1');
    await fs.writeFile(path.join(merged, 'etc/motd'), 'changed\n');
    await fs.rm(path.join(merged, 'etc/gone'));
    await fs.writeFile(path.join(merged, 'new'), 'n');
    await fn({ base, rootfs });
  } finally {
    for (const m of await listMountsUnder(h.root)) native.umount(m, UnmountFlags.MNT_DETACH);
  }
}

test('commit of a container: a layer with no blob until save, which makes it again and verifies it', { skip }, async (t) => {
  const a = await harness(t);
  await withContainer(a, async ({ base, rootfs }) => {
    const { layer, tarSize } = await rootfs.commitChanges('c1');
    const id = await a.service.commitLayer({ parentImage: base, layer: { chainId: layer.chainId, diffId: layer.diffId, tarSize }, repo: 'committed', tag: '1' });
    const image = await a.service.resolve('committed:1');
    assert.equal(image.id, id);
    assert.deepEqual(image.diffIds, [...base.diffIds, layer.diffId]);
    assert.equal(image.chainId, layer.chainId);
    assert.deepEqual(image.manifest.layers.at(-1), { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.diffId, size: tarSize });
    assert.equal(await a.content.has(layer.diffId), false, 'no blob written at commit');

    const archive = await collect(await a.service.save(['committed:1']));
    assert.equal(await a.content.has(layer.diffId), true, 'save made the blob');
    const blob = (await readTar(archive)).find((e) => e.name === `blobs/sha256/${layer.diffId.slice(7)}`);
    assert.ok(blob, 'the archive holds the layer');
    const names = (await readTar(blob.data)).map((e) => e.name).sort();
    assert.deepEqual(names, ['etc/', 'etc/.wh.gone', 'etc/motd', 'new']);

    // Another store loads it and gets the same image, unpacked from the regenerated tar.
    const b = await harness(t);
    const loaded = await b.service.load(Readable.from([archive]));
    assert.match(loaded.loaded.join('\n'), /committed:1/);
    const copy = await b.service.resolve('committed:1');
    assert.equal(copy.id, id);
    const [top] = await b.layers.lowerDirs(copy.chainId!);
    assert.equal(await fs.readFile(path.join(top, 'etc/motd'), 'utf8'), 'changed\n');
  });
});

test('save refuses a committed layer whose files no longer give its diff ID, and writes no blob', { skip }, async (t) => {
  const h = await harness(t);
  await withContainer(h, async ({ base, rootfs }) => {
    const { layer, tarSize } = await rootfs.commitChanges('c1');
    await h.service.commitLayer({ parentImage: base, layer: { chainId: layer.chainId, diffId: layer.diffId, tarSize }, repo: 'tampered', tag: '1' });
    await fs.writeFile(path.join(await h.layers.snapshotter.upperDir(layer.chainId), 'new'), 'tampered');
    await assert.rejects(h.service.save(['tampered:1']), (err: unknown) => {
      assert.equal(errorKind(err), 'Internal');
      assert.match(String(err), new RegExp(`no longer makes the tar its image recorded \\(${layer.diffId}\\)`));
      return true;
  });
  assert.equal(await h.content.has(layer.diffId), false);
  });
});

test('a committed layer must sit on the image it is committed to', { skip }, async (t) => {
  const h = await harness(t);
  await withContainer(h, async ({ rootfs }) => {
      const { layer, tarSize } = await rootfs.commitChanges('c1');
      await assert.rejects(h.service.commitLayer({ layer: { chainId: layer.chainId, diffId: layer.diffId, tarSize } }), (err: unknown) => errorKind(err) === 'InvalidArgument');
  });
});
