import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageMetadataStore, ImageRecord, NewImageRecord } from './images';
import { parseNormalizedNamed } from '../images/reference';
import { errorKind } from '../errors';
import { chainIds, type Digest } from '../util/digest';
import { LocalContentStore } from '../content/local/store';
import { encodeJson, type Descriptor } from '../images/models';
import { MediaTypes } from '../images/media-types';
import { readImageReferences } from './image-references';

const id = (hex: string): Digest => `sha256:${hex.padEnd(64, '0')}`;
const record = (i: Digest): ImageRecord & NewImageRecord => ({
  schemaVersion: 2,
  id: i,
  target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: i, size: 1 },
  references: { config: i, layers: [], chains: [] },
  registeredAt: new Date().toISOString(),
});

async function withStore(fn: (store: ImageMetadataStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'im-'));
  try {
    const store = new ImageMetadataStore(dir);
    await store.init();
    await fn(store, dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('records images and refs, and persists them', () =>
  withStore(async (store, dir) => {
    const a = id('abc1');
    await store.putImage(record(a));
    await store.setRef(parseNormalizedNamed('busybox'), a);
    await store.setRef(parseNormalizedNamed('localhost:5000/x:1'), a);
    const reopened = new ImageMetadataStore(dir);
    await reopened.init();
    assert.equal(reopened.get(a)?.id, a);
    assert.deepEqual(
      reopened.refsOf(a).map((r) => `${r.domain}/${r.path}:${r.tag}`),
      ['docker.io/library/busybox:latest', 'localhost:5000/x:1'],
    );
  }));

test('resolves names, ids, prefixes and digests like Docker', () =>
  withStore(async (store) => {
    const a = id('abc1');
    const b = id('abd2');
    await store.putImage(record(a));
    await store.putImage(record(b));
    await store.setRef(parseNormalizedNamed('busybox:1'), a);
    const digestRef = parseNormalizedNamed(`busybox@${id('ff')}`);
    await store.setRef(digestRef, b);
    assert.equal(store.resolve('busybox:1').id, a);
    assert.equal(store.resolve('docker.io/library/busybox:1').id, a);
    assert.equal(store.resolve(`busybox@${id('ff')}`).id, b);
    assert.equal(store.resolve(`busybox:1@${id('ff')}`).id, b);
    assert.equal(store.resolve(a).id, a);
    assert.equal(store.resolve(a.slice(7)).id, a);
    assert.equal(store.resolve('abc').id, a);
    assert.equal(store.resolve('sha256:abd').id, b);
    assert.throws(() => store.resolve('ab'), (err: unknown) => errorKind(err) === 'InvalidArgument' && /ambiguous/.test(String(err)));
    assert.throws(() => store.resolve('busybox'), (err: unknown) => errorKind(err) === 'NotFound' && /No such image: busybox/.test(String(err)));
    assert.throws(() => store.resolve('Busybox'), (err: unknown) => errorKind(err) === 'InvalidArgument');
    assert.throws(() => store.resolve(id('99')), (err: unknown) => errorKind(err) === 'NotFound');
  }));

test('moving a tag reports the previous image; deleting an image drops its refs', () =>
  withStore(async (store) => {
    const a = id('a1');
    const b = id('b1');
    await store.putImage(record(a));
    await store.putImage(record(b));
    assert.equal(await store.setRef(parseNormalizedNamed('x'), a), undefined);
    assert.equal(await store.setRef(parseNormalizedNamed('x'), b), a);
    await store.deleteImage(b);
    assert.equal(store.lookupRef(parseNormalizedNamed('x:latest')), undefined);
    assert.equal(store.refsOf(b).length, 0);
  }));

test('a failed update changes nothing', () =>
  withStore(async (store) => {
    const a = id('a1');
    await assert.rejects(
      store.update((tx) => {
        tx.putImage(record(a));
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.equal(store.get(a), undefined);
  }));

/** A real manifest and config in a real content store under `dir`, and the reader of references over it. */
async function realImage(dir: string, n: number) {
  const content = new LocalContentStore(path.join(dir, 'content'));
  await content.init();
  const layer = (await content.ingest(Buffer.from(`layer ${n}`))).digest;
  const config = (await content.ingest(encodeJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer] } }))).digest;
  const manifestBytes = encodeJson({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: config, size: 1 }, layers: [{ mediaType: MediaTypes.ociLayer, digest: layer, size: 1 }] });
  const manifest = await content.ingest(manifestBytes);
  return {
    content,
    id: config,
    target: { mediaType: MediaTypes.ociManifest, digest: manifest.digest, size: manifest.size },
    references: { config, layers: [layer], chains: chainIds([layer]) },
    readReferences: (target: Descriptor) => readImageReferences(content, target),
  };
}

test('migrates the pre-journal images.json, and its version 1 records to version 2 with their references; keeps the old file aside', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'im-'));
  try {
    const img = await realImage(dir, 1);
    const a = img.id;
    const legacy = {
      version: 1,
      images: { [a]: { id: a, target: img.target, registeredAt: '2024-01-01T00:00:00Z' } },
      refs: { 'docker.io/library/busybox:latest': a },
    };
    await fs.mkdir(path.join(dir, 'metadata'), { recursive: true });
    await fs.writeFile(path.join(dir, 'metadata', 'images.json'), JSON.stringify(legacy));
    // Without a way to read the blobs, version 1 records cannot be migrated: refused, not dropped.
    await assert.rejects(new ImageMetadataStore(dir).init(), (err: unknown) => errorKind(err) === 'FailedPrecondition' && /schema version 1 that need a migration/.test(String(err)));
    const store = new ImageMetadataStore(dir, { readReferences: img.readReferences });
    assert.deepEqual(await store.init(), { migrated: 1, unreadable: 0 });
    assert.equal(store.get(a)?.schemaVersion, 2);
    assert.deepEqual(store.get(a)?.references, img.references);
    assert.equal(store.resolve('busybox').id, a);
    await store.close();
    await assert.rejects(fs.stat(path.join(dir, 'metadata', 'images.json')), /ENOENT/);
    await fs.stat(path.join(dir, 'metadata', 'images.json.migrated'));
    // The migration is on disk: a store that cannot read blobs opens it.
    const reopened = new ImageMetadataStore(dir);
    assert.deepEqual(await reopened.init(), { migrated: 0, unreadable: 0 });
    assert.equal(reopened.resolve('busybox').id, a);
    assert.deepEqual(reopened.get(a)?.references, img.references);
    await reopened.close();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a version 1 record whose blobs cannot be read stays as it is; the others are migrated', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'im-'));
  try {
    const img = await realImage(dir, 2);
    const missing = id('dead');
    const legacy = {
      version: 1,
      images: {
        [img.id]: { id: img.id, target: img.target, registeredAt: '2024-01-01T00:00:00Z' },
        [missing]: { id: missing, target: { mediaType: MediaTypes.ociManifest, digest: missing, size: 1 }, registeredAt: '2024-01-01T00:00:00Z' },
      },
      refs: {},
    };
    await fs.mkdir(path.join(dir, 'metadata'), { recursive: true });
    await fs.writeFile(path.join(dir, 'metadata', 'images.json'), JSON.stringify(legacy));
    const store = new ImageMetadataStore(dir, { readReferences: img.readReferences });
    assert.deepEqual(await store.init(), { migrated: 1, unreadable: 1 });
    assert.equal(store.get(missing)?.schemaVersion, 1);
    assert.equal(store.get(missing)?.references, undefined);
    assert.deepEqual(store.get(img.id)?.references, img.references);
    await store.close();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('refsOf hands out the same array until the image\'s refs change', () =>
  withStore(async (store) => {
    const a = id('a7');
    await store.putImage(record(a));
    await store.setRef(parseNormalizedNamed('x:1'), a);
    const first = store.refsOf(a);
    assert.equal(store.refsOf(a), first);
    assert.ok(Object.isFrozen(first));
    await store.putImage({ ...record(id('b7')) });
    assert.equal(store.refsOf(a), first, 'a change to another image changed this one\'s refs');
    await store.setRef(parseNormalizedNamed('x:2'), a);
    assert.deepEqual(store.refsOf(a).map((r) => r.tag), ['1', '2']);
    await store.setRef(parseNormalizedNamed('x:1'), id('b7'));
    assert.deepEqual(store.refsOf(a).map((r) => r.tag), ['2']);
    assert.deepEqual(store.refsOf(id('b7')).map((r) => r.tag), ['1']);
  }));

test('refuses to start on a store or a record of an unknown schema version, never starting empty', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'im-'));
  try {
    await fs.mkdir(path.join(dir, 'metadata'), { recursive: true });
    await fs.writeFile(path.join(dir, 'metadata', 'images.json'), JSON.stringify({ version: 2, images: {}, refs: {} }));
    await assert.rejects(new ImageMetadataStore(dir).init(), (err: unknown) => errorKind(err) === 'FailedPrecondition' && /version 2/.test(String(err)));
    await fs.rm(path.join(dir, 'metadata', 'images.json'));

    const store = new ImageMetadataStore(dir);
    await store.init();
    await store.putImage(record(id('a1')));
    await store.close();
    const file = path.join(dir, 'metadata', 'images.journal');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace('"schemaVersion":1}', '"schemaVersion":3}'));
    await assert.rejects(new ImageMetadataStore(dir).init(), (err: unknown) => /schema version 3/.test(String(err)) && /refusing to start/.test(String(err)));

    // A record written by a newer berth: the header is known, the record is not.
    const { createHash } = await import('node:crypto');
    const json = JSON.stringify({ ops: [['p', `image/${id('b2')}`, { ...record(id('b2')), schemaVersion: 9 }]] });
    await fs.writeFile(file, text + `${createHash('sha256').update(json).digest('hex').slice(0, 16)} ${json}\n`);
    await assert.rejects(new ImageMetadataStore(dir).init(), (err: unknown) => /image record of schema version 9/.test(String(err)));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
