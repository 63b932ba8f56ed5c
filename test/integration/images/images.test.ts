import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { bootstrapBusybox } from '../../../src/images/bootstrap/busybox';
import { NO_IMAGE_USAGE, ImageUsage } from '../../../src/engine/images/types';
import { errorKind } from '../../../src/errors';
import { digestOf } from '../../../src/util/digest';
import { collect, harness, makeTar, readTar, writeTarEntries } from './helpers';

const busyboxPresent = fs.access('/bin/busybox').then(
  () => true,
  () => false,
);

test('bootstrap busybox: a real, reproducible one-layer image', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const a = await harness(t);
  const b = await harness(t);
  const id = await bootstrapBusybox(a.service);
  assert.equal(await bootstrapBusybox(b.service), id, 'same binary, same image ID');

  const list = await a.service.list();
  assert.equal(list.length, 1);
  assert.deepEqual(list[0].RepoTags, ['busybox:latest']);
  assert.equal(list[0].Id, id);
  assert.ok(list[0].Size > 1_000_000);

  const inspect = await a.service.inspect('busybox');
  assert.equal(inspect.Id, id);
  assert.equal(inspect.Os, 'linux');
  assert.equal(inspect.Architecture, 'amd64');
  assert.deepEqual(inspect.Config?.Cmd, ['sh']);
  assert.ok(inspect.Config?.Env?.[0].startsWith('PATH='));
  assert.equal(inspect.RootFS.Layers.length, 1);

  const image = await a.service.resolve(id.slice(7, 12));
  const chain = await a.service.ensureUnpacked(image);
  assert.equal(chain, image.chainId);
  const [dir] = await a.layers.lowerDirs(image.chainId!);
  const sh = await fs.stat(path.join(dir, 'bin/sh'));
  const bb = await fs.stat(path.join(dir, 'bin/busybox'));
  assert.equal(sh.ino, bb.ino, 'applets are hardlinks');
  assert.equal((await fs.stat(path.join(dir, 'tmp'))).mode & 0o7777, 0o1777);
  assert.match(await fs.readFile(path.join(dir, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);

  const history = await a.service.history('busybox:latest');
  assert.equal(history.length, 1);
  assert.equal(history[0].Id, id);
  assert.deepEqual(history[0].Tags, ['busybox:latest']);
  assert.match(history[0].CreatedBy, /BusyBox/);
});

test('resolve errors use Docker wording', async (t) => {
  const h = await harness(t);
  await assert.rejects(h.service.resolve('nope'), (err: unknown) => errorKind(err) === 'NotFound' && /^No such image: nope$/.test((err as Error).message));
  await assert.rejects(h.service.resolve('Nope'), (err: unknown) => errorKind(err) === 'InvalidArgument');
});

test('tag, untag and rmi follow Docker semantics', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const h = await harness(t);
  const id = await bootstrapBusybox(h.service);
  await h.service.tag('busybox', 'mine', '1');
  await h.service.tag(id, 'localhost:5000/other:x');
  assert.deepEqual((await h.service.resolve('mine:1')).repoTags, ['busybox:latest', 'mine:1', 'localhost:5000/other:x'], 'sorted by full name, as Docker does');
  await assert.rejects(h.service.tag('busybox', 'mine', 'bad tag!'), /invalid tag format/);

  assert.deepEqual(await h.service.remove('mine:1', {}, NO_IMAGE_USAGE), [{ Untagged: 'mine:1' }]);

  await assert.rejects(h.service.remove(id, {}, NO_IMAGE_USAGE), (err: unknown) => {
    assert.equal(errorKind(err), 'Conflict');
    assert.equal((err as Error).message, `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    return true;
  });

  await h.service.remove('localhost:5000/other:x', {}, NO_IMAGE_USAGE);
  const used: ImageUsage = { containers: (i) => (i === id ? [{ id: 'c0ffee1234567890', running: false }] : []), layerInUse: () => false };
  await assert.rejects(h.service.remove('busybox', {}, used), (err: unknown) => {
    assert.equal(errorKind(err), 'Conflict');
    assert.equal(
      (err as Error).message,
      `conflict: unable to remove repository reference "busybox" (must force) - container c0ffee123456 is using its referenced image ${id.slice(7, 19)}`,
    );
    return true;
  });
  await assert.rejects(h.service.remove(id, {}, used), /image is being used by stopped container c0ffee123456/);
  const running: ImageUsage = { containers: () => [{ id: 'abcdef0123456789', running: true }], layerInUse: () => false };
  await assert.rejects(h.service.remove(id, { force: true }, running), /\(cannot be forced\) - image is being used by running container abcdef012345/);

  const image = await h.service.resolve(id);
  await h.service.ensureUnpacked(image);
  const items = await h.service.remove(id, { force: true }, NO_IMAGE_USAGE);
  assert.deepEqual(items, [{ Untagged: 'busybox:latest' }, { Deleted: id }, { Deleted: image.chainId! }]);
  assert.deepEqual(await h.content.list(), [], 'no blob left');
  assert.deepEqual(await h.layers.list(), [], 'no layer left');
  assert.deepEqual(await h.service.list(), []);
});

test('a layer under a container survives rmi -f', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const h = await harness(t);
  const id = await bootstrapBusybox(h.service);
  const image = await h.service.resolve(id);
  await h.service.ensureUnpacked(image);
  const usage: ImageUsage = { containers: () => [{ id: 'aaaaaaaaaaaaaaaa', running: false }], layerInUse: (c) => c === image.chainId };
  const items = await h.service.remove('busybox', { force: true }, usage);
  assert.deepEqual(items, [{ Untagged: 'busybox:latest' }, { Deleted: id }]);
  assert.ok(await h.layers.get(image.chainId!));
  // Still in use: kept. Once the container is gone, the orphan layer goes.
  assert.deepEqual((await h.service.removeUnreferenced(usage, { blobs: true })).layers, []);
  await h.content.ingest(Buffer.from('orphan blob'));
  const removed = await h.service.removeUnreferenced({ containers: () => [], layerInUse: () => false }, { blobs: true });
  assert.deepEqual(removed.layers, [image.chainId]);
  assert.equal(removed.blobs.length, 1);
  assert.deepEqual(await h.layers.list(), []);
});

test('commit on top of an image; children block rmi of the parent', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const h = await harness(t);
  const baseId = await bootstrapBusybox(h.service);
  const base = await h.service.resolve(baseId);
  const diff = await makeTar([
    { name: 'hello.txt', data: 'hi\n' },
    { name: 'etc/.wh.group', data: '' },
  ]);
  const id = await h.service.commitLayer({
    parentImage: base,
    diffTar: Readable.from([diff]),
    changes: ['CMD ["cat", "/hello.txt"]', 'ENV A=1'],
    comment: 'my commit',
    author: 'me',
    repo: 'committed',
  });
  const child = await h.service.resolve('committed');
  assert.equal(child.id, id);
  assert.deepEqual(child.runConfig.Cmd, ['cat', '/hello.txt']);
  assert.ok(child.runConfig.Env?.includes('A=1'));
  assert.equal(child.diffIds.length, 2);
  assert.equal(child.diffIds[1], digestOf(diff));
  assert.equal(child.record.parent, baseId);
  const [top] = await h.layers.lowerDirs(child.chainId!);
  assert.equal(await fs.readFile(path.join(top, 'hello.txt'), 'utf8'), 'hi\n');
  const history = await h.service.history('committed');
  assert.equal(history.length, 2);
  assert.equal(history[0].Comment, 'my commit');
  // As dockerd: the entry below the commit is its parent's, with the parent's ID and tags.
  assert.equal(history[1].Id, baseId);
  assert.deepEqual(history[1].Tags, ['busybox:latest']);
  const inspect = await h.service.inspect('committed');
  assert.equal(inspect.Parent, baseId);
  assert.equal(inspect.Author, 'me');
  assert.ok(inspect.GraphDriver.Data?.LowerDir);

  await assert.rejects(h.service.remove(baseId, { force: true }, NO_IMAGE_USAGE), /\(cannot be forced\) - image has dependent child images/);
  // Untagging the parent is fine; it stays as an intermediate image, hidden from the default list.
  await h.service.remove('busybox', {}, NO_IMAGE_USAGE);
  assert.deepEqual((await h.service.list()).map((i) => i.Id), [id]);
  assert.equal((await h.service.list({ all: true })).length, 2);
  // Removing the child prunes the untagged parent too.
  const items = await h.service.remove('committed', {}, NO_IMAGE_USAGE);
  assert.ok(items.some((i) => i.Deleted === id));
  assert.ok(items.some((i) => i.Deleted === baseId));
  assert.deepEqual(await h.content.list(), []);
  assert.deepEqual(await h.layers.list(), []);
});

test('list filters', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const h = await harness(t);
  const base = await h.service.resolve(await bootstrapBusybox(h.service));
  const labelled = await h.service.commitLayer({
    parentImage: base,
    diffTar: Readable.from([await makeTar([{ name: 'x', data: 'x' }])]),
    changes: ['LABEL team=blue'],
    created: '2025-01-01T00:00:00Z',
    repo: 'app:v1',
  });
  const dangling = await h.service.commitLayer({
    parentImage: base,
    diffTar: Readable.from([await makeTar([{ name: 'y', data: 'y' }])]),
    created: '2025-06-01T00:00:00Z',
  });
  const ids = async (filters: Record<string, string[]>) => (await h.service.list({ filters })).map((i) => i.Id).sort();
  assert.deepEqual(await ids({ label: ['team=blue'] }), [labelled]);
  assert.deepEqual(await ids({ label: ['team'] }), [labelled]);
  assert.deepEqual(await ids({ dangling: ['true'] }), [dangling]);
  assert.deepEqual(await ids({ dangling: ['false'] }), [base.id, labelled].sort());
  assert.deepEqual(await ids({ reference: ['app'] }), [labelled]);
  assert.deepEqual(await ids({ reference: ['busy*:latest'] }), [base.id]);
  assert.deepEqual(await ids({ since: ['app:v1'] }), [dangling]);
  assert.deepEqual(await ids({ before: ['app:v1'] }), [base.id]);
  await assert.rejects(h.service.list({ filters: { bogus: ['1'] } }), /invalid filter 'bogus'/);

  const pruned = await h.service.prune({}, NO_IMAGE_USAGE);
  assert.deepEqual(pruned.ImagesDeleted.filter((i) => i.Deleted === dangling).length, 1);
  assert.ok(pruned.SpaceReclaimed > 0);
  assert.equal(await h.service.find(dangling), undefined);
  const df = await h.service.diskUsage(NO_IMAGE_USAGE);
  assert.equal(df.Images.length, 2);
  assert.ok(df.Images.every((i) => i.SharedSize > 0));
});

test('save then load into another root gives the same image', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const a = await harness(t);
  const b = await harness(t);
  const id = await bootstrapBusybox(a.service);
  await a.service.tag('busybox', 'busybox', 'v2');
  const archive = await collect(await a.service.save(['busybox']));
  const names = (await readTar(archive)).map((e) => e.name);
  assert.ok(names.includes('manifest.json') && names.includes('index.json') && names.includes('oci-layout'));
  const manifestJson = JSON.parse((await readTar(archive)).find((e) => e.name === 'manifest.json')!.data.toString());
  assert.deepEqual(manifestJson[0].RepoTags.sort(), ['busybox:latest', 'busybox:v2']);

  const result = await b.service.load(Readable.from([archive]));
  assert.deepEqual(result.ids, [id]);
  assert.deepEqual(result.loaded.sort(), ['Loaded image: busybox:latest', 'Loaded image: busybox:v2']);
  const loaded = await b.service.resolve('busybox:v2');
  assert.equal(loaded.id, id);
  assert.equal(loaded.record.target.digest, (await a.service.resolve(id)).record.target.digest, 'manifest kept');
  assert.ok(await b.layers.get(loaded.chainId!), 'layers unpacked by load');
  // Nothing extra kept: exactly manifest, config and the layer.
  assert.equal((await b.content.list()).length, 3);

  // An OCI layout alone (no manifest.json), as containerd exports it: names from the annotations.
  const ociOnly = (await readTar(archive)).filter((e) => e.name !== 'manifest.json');
  const d = await harness(t);
  const ociResult = await d.service.load(Readable.from([await writeTarEntries(ociOnly)]));
  assert.deepEqual(ociResult.loaded.sort(), ['Loaded image: busybox:latest', 'Loaded image: busybox:v2']);
  assert.equal((await d.service.resolve('busybox:v2')).id, id);

  // By ID: no tags.
  const byId = await collect(await a.service.save([id]));
  const c = await harness(t);
  assert.deepEqual((await c.service.load(Readable.from([byId]))).loaded, [`Loaded image ID: ${id}`]);
});

test('load accepts a Docker 20.10 docker-archive (layer.tar dirs, symlinked layer, gzip)', async (t) => {
  const h = await harness(t);
  const layer1 = await makeTar([{ name: 'a.txt', data: 'a' }]);
  const layer2 = await makeTar([{ name: 'b.txt', data: 'b' }]);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/a'] },
    created: '2023-01-01T00:00:00Z',
    rootfs: { type: 'layers', diff_ids: [digestOf(layer1), digestOf(layer2), digestOf(layer1)] },
  });
  const configHex = digestOf(config).slice(7);
  const archive = await makeTar([
    { name: 'l1/', type: 'directory' },
    { name: 'l1/VERSION', data: '1.0' },
    { name: 'l1/json', data: '{}' },
    { name: 'l1/layer.tar', data: layer1 },
    { name: 'l2/layer.tar', data: gzipSync(layer2) },
    { name: 'l3/layer.tar', type: 'symlink', linkname: '../l1/layer.tar' },
    { name: `${configHex}.json`, data: config },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${configHex}.json`, RepoTags: ['old/app:1'], Layers: ['l1/layer.tar', 'l2/layer.tar', 'l3/layer.tar'] }]) },
    { name: 'repositories', data: '{}' },
  ]);
  const result = await h.service.load(Readable.from([gzipSync(archive)]));
  assert.deepEqual(result.loaded, ['Loaded image: old/app:1']);
  const image = await h.service.resolve('old/app:1');
  assert.equal(image.id, `sha256:${configHex}`);
  assert.equal(image.manifest.layers[1].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  // layer blobs + config + manifest written by load; VERSION/json/repositories dropped
  assert.equal((await h.content.list()).length, 4);
  // And it saves again.
  const again = await collect(await h.service.save(['old/app:1']));
  assert.ok(again.length > 0);
});

test('a corrupted archive loads nothing and leaves nothing behind', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const a = await harness(t);
  await bootstrapBusybox(a.service);
  const archive = await collect(await a.service.save(['busybox:latest']));
  const entries = await readTar(archive);
  const layerHex = (await a.service.resolve('busybox')).diffIds[0].slice(7);
  const corrupt = entries.map((e) => {
    if (e.name !== `blobs/sha256/${layerHex}`) return e;
    const data = Buffer.from(e.data);
    data[data.length - 2000] ^= 0xff;
    return { ...e, data };
  });
  const b = await harness(t);
  await assert.rejects(b.service.load(Readable.from([await writeTarEntries(corrupt)])), (err: unknown) => errorKind(err) === 'InvalidArgument');
  assert.deepEqual(await b.service.list({ all: true }), []);
  assert.deepEqual(await b.content.list(), []);
  assert.deepEqual(await b.layers.list(), []);
  assert.deepEqual(await fs.readdir(path.join(b.root, 'content/ingest')), []);

  // A docker-archive whose layer does not match its diff ID.
  const layer = await makeTar([{ name: 'f', data: 'f' }]);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf('other')] } });
  const bad = await makeTar([
    { name: 'x/layer.tar', data: layer },
    { name: 'c.json', data: config },
    { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['bad:1'], Layers: ['x/layer.tar'] }]) },
  ]);
  await assert.rejects(b.service.load(Readable.from([bad])), /invalid diffID for layer 0/);
  assert.deepEqual(await b.content.list(), []);
  assert.equal(await b.service.find('bad:1'), undefined);

  // Paths that climb out of the archive are refused.
  const evil = await makeTar([{ name: '../../etc/x', data: 'x' }]);
  await assert.rejects(b.service.load(Readable.from([evil])), /escapes the archive/);
  assert.deepEqual(await b.content.list(), []);
});

test('import turns a rootfs tarball into a normalized one-layer image', async (t) => {
  const h = await harness(t);
  const rootfs = await makeTar([
    { name: './', type: 'directory' },
    { name: './etc/', type: 'directory' },
    { name: './etc/os-release', data: 'ID=test\n' },
    { name: '/bin/', type: 'directory' },
    { name: '/bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
    { name: 'bin/alias', type: 'link', linkname: './bin/tool' },
  ]);
  const id = await h.service.importTarball(Readable.from([gzipSync(rootfs)]), { repo: 'imported', tag: 't', changes: ['CMD ["/bin/tool"]'] });
  const image = await h.service.resolve('imported:t');
  assert.equal(image.id, id);
  assert.deepEqual(image.runConfig.Cmd, ['/bin/tool']);
  assert.equal(image.diffIds.length, 1);
  const layerTar = await h.content.readBlob(image.manifest.layers[0].digest);
  assert.equal(digestOf(layerTar), image.diffIds[0]);
  const names = (await readTar(layerTar)).map((e) => `${e.name}${e.linkname ? ' -> ' + e.linkname : ''}`);
  assert.deepEqual(names, ['etc/', 'etc/os-release', 'bin/', 'bin/tool', 'bin/alias -> bin/tool']);
  const [dir] = await h.layers.lowerDirs(image.chainId!);
  assert.equal(await fs.readFile(path.join(dir, 'etc/os-release'), 'utf8'), 'ID=test\n');
  const history = await h.service.history(id);
  assert.equal(history[0].Comment, 'Imported from -');

  const evil = await makeTar([{ name: '../escape', data: 'x' }]);
  await assert.rejects(h.service.importTarball(Readable.from([evil])), (err: unknown) => errorKind(err) === 'InvalidArgument');
  assert.equal((await h.service.list()).length, 1);
});
