import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageMetadataStore, ImageRecord } from './images';
import { parseNormalizedNamed } from '../images/reference';
import { errorKind } from '../errors';
import type { Digest } from '../util/digest';

const id = (hex: string): Digest => `sha256:${hex.padEnd(64, '0')}`;
const record = (i: Digest): ImageRecord => ({
  schemaVersion: 1,
  id: i,
  target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: i, size: 1 },
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

test('migrates the pre-journal images.json, stamping schemaVersion, and keeps the old file aside', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'im-'));
  try {
    const a = id('a1');
    const legacy = {
      version: 1,
      images: { [a]: { id: a, target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: a, size: 1 }, registeredAt: '2024-01-01T00:00:00Z' } },
      refs: { 'docker.io/library/busybox:latest': a },
    };
    await fs.mkdir(path.join(dir, 'metadata'), { recursive: true });
    await fs.writeFile(path.join(dir, 'metadata', 'images.json'), JSON.stringify(legacy));
    const store = new ImageMetadataStore(dir);
    await store.init();
    assert.equal(store.get(a)?.schemaVersion, 1);
    assert.equal(store.resolve('busybox').id, a);
    await store.close();
    await assert.rejects(fs.stat(path.join(dir, 'metadata', 'images.json')), /ENOENT/);
    await fs.stat(path.join(dir, 'metadata', 'images.json.migrated'));
    const reopened = new ImageMetadataStore(dir);
    await reopened.init();
    assert.equal(reopened.resolve('busybox').id, a);
    await reopened.close();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

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
