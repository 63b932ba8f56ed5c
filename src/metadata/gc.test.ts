import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalContentStore } from '../content/local/store';
import { encodeJson, type ImageConfig, type ImageManifest } from '../images/models';
import { MediaTypes } from '../images/media-types';
import { chainIds, digestOf, type Digest } from '../util/digest';
import { silentLogger } from '../util/logger';
import { GarbageCollector, contentCollectable, type Collectable, type CollectableItem } from './gc';
import { ImageMetadataStore } from './images';
import { imageReferences } from './image-references';
import { LeaseManager } from './leases';

/** Layers as the collector sees them: a list with parents. In memory: only their keys matter here. */
class MemoryLayers implements Collectable {
  constructor(readonly items: CollectableItem[]) {}
  async list() {
    return this.items.map((i) => ({ ...i }));
  }
  async remove(key: string) {
    this.items.splice(this.items.findIndex((i) => i.key === key), 1);
  }
  keys() {
    return this.items.map((i) => i.key).sort();
  }
}

interface Fixture {
  dir: string;
  content: LocalContentStore;
  images: ImageMetadataStore;
  leases: LeaseManager;
  layers: MemoryLayers;
  collector(options?: { ingestExpiryMs?: number }): GarbageCollector;
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gc-'));
  try {
    const content = new LocalContentStore(path.join(dir, 'content'));
    await content.init();
    const images = new ImageMetadataStore(path.join(dir, 'images'));
    await images.init();
    const leases = new LeaseManager();
    const layers = new MemoryLayers([]);
    const collector = (options: { ingestExpiryMs?: number } = {}) =>
      new GarbageCollector({ images, containers: { references: () => [] }, leases, content, blobs: contentCollectable(content), layers, ingests: content, logger: silentLogger, ...options });
    await fn({ dir, content, images, leases, layers, collector });
    await images.close();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A manifest and config (as bytes, not yet in any store) over `diffIds`. */
function makeImage(n: number, diffIds: Digest[]) {
  const config: ImageConfig = { architecture: 'amd64', os: 'linux', created: new Date(n * 1000).toISOString(), rootfs: { type: 'layers', diff_ids: diffIds } };
  const configBytes = encodeJson(config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.length },
    layers: diffIds.map((d) => ({ mediaType: MediaTypes.ociLayer, digest: d, size: 1 })),
  };
  const manifestBytes = encodeJson(manifest);
  return { config, configBytes, manifest, manifestBytes, target: { mediaType: MediaTypes.ociManifest, digest: digestOf(manifestBytes), size: manifestBytes.length } };
}

const has = (content: LocalContentStore, d: Digest) => content.has(d);

test('marks from the references in image records, without reading a manifest or config', () =>
  withFixture(async ({ content, images, layers, collector }) => {
    const layerBlob = (await content.ingest(Buffer.from('layer tar'))).digest;
    const orphan = (await content.ingest(Buffer.from('orphan'))).digest;
    const image = makeImage(1, [layerBlob]);
    // The record names a config and a manifest, whose blobs are NOT in the store: marking must not need them.
    await images.putImage({ id: digestOf(image.configBytes), target: image.target, references: imageReferences(image.manifest, image.config), registeredAt: new Date().toISOString() });
    const [chain] = chainIds([layerBlob]);
    layers.items.push({ key: chain as string, parent: null }, { key: 'sha256:orphan-layer', parent: null });

    const result = await collector().collect();
    assert.deepEqual(result.blobs.map((b) => b.key), [orphan]);
    assert.deepEqual(result.layers.map((l) => l.key), ['sha256:orphan-layer']);
    assert.equal(await has(content, layerBlob), true);
    assert.deepEqual(layers.keys(), [chain]);
  }));

test('a version 1 record without references: read from its blobs; unreadable blobs abort the collection, removing nothing', () =>
  withFixture(async ({ dir, content, images, layers }) => {
    const layerBlob = (await content.ingest(Buffer.from('layer tar'))).digest;
    const orphan = (await content.ingest(Buffer.from('orphan'))).digest;
    const image = makeImage(2, [layerBlob]);
    await content.ingest(image.configBytes);
    await content.ingest(image.manifestBytes);
    const [chain] = chainIds([layerBlob]);
    layers.items.push({ key: chain as string, parent: null });
    await images.close();
    // A journal written by the berth before references: a version 1 record.
    const journal = path.join(dir, 'images', 'metadata', 'images.journal');
    const id = digestOf(image.configBytes);
    await writeJournal(journal, [['p', `image/${id}`, { schemaVersion: 1, id, target: image.target, registeredAt: '2024-01-01T00:00:00Z' }]]);
    // Migration at open fills the references from the blobs; here it is skipped to test the collector's fallback.
    const v1 = new ImageMetadataStore(path.join(dir, 'images'), { readReferences: () => Promise.reject(new Error('unreadable')) });
    assert.deepEqual(await v1.init(), { migrated: 0, unreadable: 1 });
    assert.equal(v1.get(id)?.references, undefined);
    const gc = new GarbageCollector({ images: v1, containers: { references: () => [] }, leases: new LeaseManager(), content, blobs: contentCollectable(content), layers, logger: silentLogger });
    const result = await gc.collect();
    assert.deepEqual(result.blobs.map((b) => b.key), [orphan]);
    assert.equal(await has(content, image.target.digest), true);
    assert.equal(await has(content, layerBlob), true);
    assert.deepEqual(layers.keys(), [chain]);

    const another = (await content.ingest(Buffer.from('another orphan'))).digest;
    await content.delete(image.target.digest);
    await assert.rejects(new GarbageCollector({ images: v1, containers: { references: () => [] }, leases: new LeaseManager(), content, blobs: contentCollectable(content), layers, logger: silentLogger }).collect(), /not found/);
    assert.equal(await has(content, another), true, 'a collection that could not read an image removed a blob');
    await v1.close();
  }));

/** Makes a named ingest look untouched for `ms` (its start time and its data's mtime). */
async function backdate(dir: string, ref: string, ms: number): Promise<void> {
  const ingest = path.join(dir, 'content', 'content', 'ingest', createHash('sha256').update(ref).digest('hex'));
  const metaFile = path.join(ingest, 'meta.json');
  const meta = JSON.parse(await fs.readFile(metaFile, 'utf8')) as { startedAt: number };
  await fs.writeFile(metaFile, JSON.stringify({ ...meta, startedAt: meta.startedAt - ms }));
  const then = new Date(Date.now() - ms);
  await fs.utimes(path.join(ingest, 'data'), then, then);
}

const HOUR = 3_600_000;

test('stale named ingests go; a leased one, a fresh one and one a writer holds stay', () =>
  withFixture(async ({ dir, content, leases, collector }) => {
    const write = async (ref: string) => {
      const w = await content.writer({ ref });
      await w.write(Buffer.from(`data of ${ref}`));
      return w;
    };
    await (await write('stale')).close();
    await (await write('leased')).close();
    const held = await write('held'); // open: a writer is in the middle of it
    await (await write('fresh')).close();
    for (const ref of ['stale', 'leased', 'held']) await backdate(dir, ref, 2 * HOUR);
    const lease = await leases.create({ scope: 'persistent' });
    await leases.addResource(lease.id, { type: 'ingest', id: 'leased' });

    const result = await collector({ ingestExpiryMs: HOUR }).collect();
    assert.deepEqual(result.ingests, ['stale']);
    assert.deepEqual((await content.listIngests()).map((i) => i.ref).sort(), ['fresh', 'held', 'leased']);
    // The held one resumes and commits.
    await held.write(Buffer.from(' and more'));
    const info = await held.commit();
    assert.equal((await content.readBlob(info.digest)).toString(), 'data of held and more');

    // The lease ends: the leased ingest is stale now; the default expiry (24 h) keeps it, one hour does not.
    await leases.delete(lease.id);
    assert.deepEqual((await collector().collect()).ingests, []);
    assert.deepEqual((await collector({ ingestExpiryMs: HOUR }).collect()).ingests, ['leased']);
    assert.deepEqual((await content.listIngests()).map((i) => i.ref), ['fresh']);
  }));

test('a targeted collection leaves ingests alone', () =>
  withFixture(async ({ dir, content, collector }) => {
    const w = await content.writer({ ref: 'old' });
    await w.write(Buffer.from('x'));
    await w.close();
    await backdate(dir, 'old', 2 * HOUR);
    assert.deepEqual((await collector({ ingestExpiryMs: HOUR }).collect({ targeted: true })).ingests, []);
    assert.equal((await content.listIngests()).length, 1);
  }));

async function writeJournal(file: string, ops: unknown[]): Promise<void> {
  const json = JSON.stringify({ ops });
  const header = JSON.stringify({ berth: 'journal', kind: 'images', schemaVersion: 1 });
  await fs.writeFile(file, `${header}\n${createHash('sha256').update(json).digest('hex').slice(0, 16)} ${json}\n`);
}
