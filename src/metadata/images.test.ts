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
