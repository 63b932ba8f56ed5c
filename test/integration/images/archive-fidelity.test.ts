import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { bootstrapBusybox } from '../../../src/images/bootstrap/busybox';
import { errorKind, messageOf } from '../../../src/errors';
import { digestOf } from '../../../src/util/digest';
import { legacyArchive } from '../../helpers/legacy-archive';
import { collect, harness, Harness, readTar, writeTarEntries } from './helpers';

const busyboxPresent = fs.access('/bin/busybox').then(
  () => true,
  () => false,
);

type TarFile = Awaited<ReturnType<typeof readTar>>[number];

/** berth's busybox saved, with its config swapped for `config` (manifest.json only: a Docker 20.10-style archive). */
async function withConfig(entries: TarFile[], config: Buffer): Promise<Buffer> {
  const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString()) as Array<{ Config: string }>;
  const oldConfig = manifest[0].Config;
  const configName = `blobs/sha256/${digestOf(config).slice(7)}`;
  manifest[0].Config = configName;
  const kept = entries.filter((e) => e.name !== oldConfig && e.name !== 'manifest.json' && e.name !== 'index.json' && e.name !== 'oci-layout');
  return writeTarEntries([
    ...kept,
    { name: configName, type: 'file', data: config },
    { name: 'manifest.json', type: 'file', data: Buffer.from(JSON.stringify(manifest)) },
  ]);
}

/** The same object, keys in reverse order at every level, indented, with a trailing newline. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reordered(v)]));
  return value;
}

async function nothingLeft(h: Harness): Promise<void> {
  assert.deepEqual(await h.service.list({ all: true }), []);
  assert.deepEqual(await h.content.list(), []);
  assert.deepEqual(await h.layers.list(), []);
  assert.deepEqual(await fs.readdir(path.join(h.root, 'content/ingest')), []);
}

test('load keeps a config byte for byte (trailing newline, unusual key order): the image ID is its digest, and save gives the same bytes back', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const a = await harness(t);
  await bootstrapBusybox(a.service);
  const entries = await readTar(await collect(await a.service.save(['busybox:latest'])));
  const original = (await a.service.resolve('busybox')).config;
  const config = Buffer.from(`${JSON.stringify(reordered(original), null, 3)}\n`);
  const expectedId = digestOf(config);

  const b = await harness(t);
  const result = await b.service.load(Readable.from([await withConfig(entries, config)]));
  assert.deepEqual(result.loaded, ['Loaded image: busybox:latest']);
  const image = await b.service.resolve('busybox:latest');
  assert.equal(image.id, expectedId, 'the ID is the sha256 of the config as it came');
  assert.deepEqual(await b.content.readBlob(expectedId), config);
  assert.deepEqual(image.config.config?.Cmd, original.config?.Cmd);

  // Saved again (and loaded into a third store), the config is the very same bytes.
  const resaved = await readTar(await collect(await b.service.save(['busybox:latest'])));
  const manifest = JSON.parse(resaved.find((e) => e.name === 'manifest.json')!.data.toString()) as Array<{ Config: string }>;
  assert.deepEqual(resaved.find((e) => e.name === manifest[0].Config)!.data, config);
  const c = await harness(t);
  await c.service.load(Readable.from([await writeTarEntries(resaved)]));
  assert.equal((await c.service.resolve('busybox:latest')).id, expectedId);
});

test('RepoDigests an OCI index carries (name@digest of the entry) are kept by load and written again by save', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const a = await harness(t);
  const id = await bootstrapBusybox(a.service);
  const entries = await readTar(await collect(await a.service.save(['busybox:latest'])));
  const index = JSON.parse(entries.find((e) => e.name === 'index.json')!.data.toString()) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const manifestDigest = index.manifests[0].digest;
  index.manifests.push(
    { ...index.manifests[0], annotations: { 'io.containerd.image.name': `docker.io/library/busybox@${manifestDigest}` } },
    // A digest that is not this entry's own is no RepoDigest of it.
    { ...index.manifests[0], annotations: { 'io.containerd.image.name': `docker.io/library/busybox@${digestOf('other')}` } },
  );
  const withDigests = entries
    .filter((e) => e.name !== 'index.json' && e.name !== 'manifest.json')
    .concat([{ name: 'index.json', type: 'file', data: Buffer.from(JSON.stringify(index)) }]);

  const b = await harness(t);
  await b.service.load(Readable.from([await writeTarEntries(withDigests)]));
  const loaded = await b.service.resolve('busybox:latest');
  assert.equal(loaded.id, id);
  assert.deepEqual(loaded.repoDigests, [`busybox@${manifestDigest}`]);
  assert.equal((await b.service.resolve(`busybox@${manifestDigest}`)).id, id);

  const c = await harness(t);
  await c.service.load(await b.service.save(['busybox:latest']));
  assert.deepEqual((await c.service.resolve('busybox:latest')).repoDigests, [`busybox@${manifestDigest}`], 'save carries them');
});

test('a pre-1.10 archive (repositories + <layer>/json, VERSION, layer.tar) becomes a chain of images as dockerd makes them', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const legacy = await legacyArchive();
  const h = await harness(t);
  const result = await h.service.load(Readable.from([legacy.tar]));
  assert.deepEqual(result.loaded, ['Loaded image: legacy/busybox:v1'], 'only tags are reported, as dockerd does');

  const top = await h.service.resolve('legacy/busybox:v1');
  const configBytes = await h.content.readBlob(top.id);
  assert.equal(digestOf(configBytes), top.id);
  const text = configBytes.toString();
  // Go's encoding/json: compact, keys sorted, <>& escaped, no trailing newline.
  assert.ok(!text.endsWith('\n') && !text.includes(': '), text);
  const keys = Object.keys(JSON.parse(text) as object);
  assert.deepEqual(keys, [...keys].sort());
  assert.ok(text.includes('\\u0026\\u0026 true') && text.includes('"a\\u0026b":"\\u003cx\\u003e"'), text);
  for (const dropped of ['id', 'parent', 'Size']) assert.ok(!keys.includes(dropped), `${dropped} is dropped`);

  const config = top.config;
  assert.deepEqual(config.config?.Cmd, ['cat', '/etc/legacy']);
  assert.equal(config.rootfs.diff_ids.length, 2);
  assert.deepEqual(config.history, [
    { created: '2016-02-29T23:59:59.5Z', created_by: '/bin/sh -c #(nop) ADD file:busybox in /' },
    {
      created: '2016-03-01T10:20:30.12Z',
      author: 'Legacy <legacy@example.com>',
      created_by: "/bin/sh -c echo 'from a legacy archive' > /etc/legacy && true",
      comment: 'second layer',
    },
  ]);
  // The base layer is an image too, the top one's parent (hidden from `images` as an intermediate).
  const all = await h.service.list({ all: true });
  assert.equal(all.length, 2);
  const base = all.find((i) => i.Id !== top.id)!;
  assert.equal(top.record.parent, base.Id);
  assert.deepEqual((await h.service.resolve(base.Id)).config.rootfs.diff_ids, [config.rootfs.diff_ids[0]]);
  assert.deepEqual((await h.service.list()).map((i) => i.Id), [top.id]);

  const [upper] = await h.layers.lowerDirs(top.chainId!);
  assert.equal(await fs.readFile(path.join(upper, 'etc/legacy'), 'utf8'), 'from a legacy archive\n');

  // Loading it again changes nothing.
  await h.service.load(Readable.from([legacy.tar]));
  assert.equal((await h.service.list({ all: true })).length, 2);
});

test('json from Docker before 1.8.3 is read as dockerd reads it (fields in any case, a string Cmd) and written again through the v1 struct', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const h = await harness(t);
  await h.service.load(Readable.from([(await legacyArchive({ era: 'pre-1.8.3' })).tar]));
  const top = await h.service.resolve('legacy/busybox:v1');
  const config = JSON.parse((await h.content.readBlob(top.id)).toString()) as Record<string, Record<string, unknown>>;
  assert.equal(config.checksum, undefined, 'keys the struct does not know are dropped');
  assert.equal(config.Container_Config, undefined);
  assert.equal(config.container_config.Hostname, '0123abcd');
  assert.equal(config.container_config.Unknown, undefined);
  assert.deepEqual(config.config.Cmd, ['/etc/legacy'], 'a string Cmd is a one-element list');
  assert.deepEqual(config.config.Entrypoint, ['cat']);
  assert.equal(top.config.history?.[1].created_by, "/bin/sh -c echo 'from a legacy archive' > /etc/legacy && true");
  assert.equal(top.config.history?.[1].created, '2015-06-01T10:00:00.0000001Z');
});

test('a malformed pre-1.10 archive is refused with a 400 naming what is wrong, and leaves nothing behind', async (t) => {
  if (!(await busyboxPresent)) return t.skip('busybox-static not installed');
  const h = await harness(t);
  const cases: Array<[string, Parameters<typeof legacyArchive>[0], RegExp]> = [
    ['repositories is not JSON', { override: () => ({ repositories: '{"legacy/busybox": ' }) }, /^invalid archive: repositories: /],
    ['repositories is a list', { override: () => ({ repositories: '[]' }) }, /^invalid archive: repositories: not a JSON object of repositories$/],
    ['a tag that names no layer', { override: () => ({ repositories: JSON.stringify({ x: { v1: 'f'.repeat(64) } }) }) }, new RegExp(`^invalid archive: repositories: invalid target ID: ${'f'.repeat(64)}$`)],
    ['a bad repository name', { repository: 'Legacy/BusyBox' }, /^invalid archive: repositories: "Legacy\/BusyBox": .*lowercase/],
    ['a bad tag', { tag: 'bad tag' }, /^invalid archive: repositories: invalid tag "bad tag" for legacy\/busybox$/],
    ['a layer without json', { override: ({ topId }) => ({ [`${topId}/json`]: null }) }, /^invalid archive: [a-f0-9]{64}\/json is missing$/],
    ['a layer without layer.tar', { override: ({ baseId }) => ({ [`${baseId}/layer.tar`]: null }) }, /^invalid archive: [a-f0-9]{64}\/layer.tar is missing$/],
    ['json that is not JSON', { override: ({ topId }) => ({ [`${topId}/json`]: '{"id":' }) }, /^invalid archive: [a-f0-9]{64}\/json: /],
    ['a parent not in the archive', { override: ({ topId }) => ({ [`${topId}/json`]: JSON.stringify({ id: topId, parent: 'e'.repeat(64) }) }) }, /\/json: parent layer e{64} is not in the archive$/],
    ['a parent chain that loops', { override: ({ baseId, topId }) => ({ [`${baseId}/json`]: JSON.stringify({ id: baseId, parent: topId }) }) }, /\/json: its parent chain loops/],
    ['a bad creation time', { override: ({ topId, baseId }) => ({ [`${topId}/json`]: JSON.stringify({ id: topId, parent: baseId, created: 'yesterday' }) }) }, /\/json: created: parsing time "yesterday"/],
    ['a command that is not a list', { override: ({ topId, baseId }) => ({ [`${topId}/json`]: JSON.stringify({ id: topId, parent: baseId, container_config: { Cmd: 5 } }) }) }, /\/json: container_config.Cmd is not a list of strings$/],
    ['labels that are not strings', { override: ({ topId, baseId }) => ({ [`${topId}/json`]: JSON.stringify({ id: topId, parent: baseId, config: { Labels: { a: 1 } } }) }) }, /\/json: config.Labels is not an object of strings$/],
    ['a Windows layer', { override: ({ topId, baseId }) => ({ [`${topId}/json`]: JSON.stringify({ id: topId, parent: baseId, os: 'windows' }) }) }, /^cannot load windows image on linux$/],
    ['a layer.tar that is not a tar', { override: ({ topId }) => ({ [`${topId}/layer.tar`]: Buffer.alloc(3000, 7) }) }, /^invalid layer 1 /],
  ];
  for (const [what, opts, message] of cases) {
    const legacy = await legacyArchive(opts);
    await assert.rejects(h.service.load(Readable.from([legacy.tar])), (err: unknown) => {
      assert.equal(errorKind(err), 'InvalidArgument', `${what}: ${messageOf(err)}`);
      assert.match(messageOf(err), message, what);
      return true;
    });
    await nothingLeft(h);
  }
});
