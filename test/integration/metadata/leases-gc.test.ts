import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { apiRequest, bootstrapBusybox, isRoot, startTestDaemon, TestDaemon } from '../../helpers/test-daemon';
import { LocalContentStore } from '../../../src/content/local/store';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { SnapshotLayers } from '../../../src/snapshots/layers';
import { LeaseManager } from '../../../src/metadata/leases';
import { makeTar } from '../images/helpers';
import type { Digest } from '../../../src/util/digest';

const skip = !isRoot ? 'needs root (overlay layers, runc)' : false;

function getBytes(socket: string, urlPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path: urlPath }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${urlPath}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

describe('leases and garbage collection in the daemon', { skip }, () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(() => daemon?.stop());

  it('a client stalled in the middle of a load upload does not delay a create', async () => {
    const archive = await getBytes(daemon.socket, '/images/busybox:latest/get');
    let loadAnswered = false;
    const load = http.request({
      socketPath: daemon.socket,
      method: 'POST',
      path: '/images/load?quiet=1',
      headers: { 'Content-Type': 'application/x-tar', 'Content-Length': archive.length },
    });
    const loaded = new Promise<{ status: number; body: string }>((resolve, reject) => {
      load.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          loadAnswered = true;
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
        });
      });
      load.on('error', reject);
    });
    // Half the archive, then nothing: the daemon is now inside the load, waiting for bytes.
    load.write(archive.subarray(0, Math.floor(archive.length / 2)));
    await new Promise((r) => setTimeout(r, 300));

    const started = Date.now();
    // Bounded, so a create queued behind the upload fails the test instead of hanging it.
    const created = await within(10_000, apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] }), 'create');
    const tookMs = Date.now() - started;
    assert.equal(created.status, 201, created.body);
    assert.equal(loadAnswered, false, 'the load finished before the create, so the test proved nothing');
    // A commit (which writes content too) and an rmi do not queue behind the upload either.
    const { Id } = JSON.parse(created.body) as { Id: string };
    const committed = await within(10_000, apiRequest(daemon.socket, 'POST', `/commit?container=${Id}&repo=during-load&tag=1`), 'commit');
    assert.equal(committed.status, 201, committed.body);
    const removed = await within(10_000, apiRequest(daemon.socket, 'DELETE', '/images/during-load:1'), 'rmi');
    assert.equal(removed.status, 200, removed.body);
    assert.equal(loadAnswered, false);
    assert.ok(tookMs < 5000, `create took ${tookMs} ms`);

    load.end(archive.subarray(Math.floor(archive.length / 2)));
    const result = await loaded;
    assert.equal(result.status, 200, result.body);
    assert.match(result.body, /Loaded image: busybox:latest/);
    await apiRequest(daemon.socket, 'DELETE', `/containers/${Id}?force=1`);
  });

  it('a restart removes orphan blobs and layers and expired leases; a leased blob and layer survive', async () => {
    await daemon.crash();
    const content = new LocalContentStore(path.join(daemon.dataRoot, 'content'));
    await content.init();
    const snapshotter = new OverlaySnapshotter(path.join(daemon.dataRoot, 'snapshots'));
    await snapshotter.init();
    const layers = new SnapshotLayers(snapshotter);
    const orphanBlob = (await content.ingest(Buffer.from('an orphan blob'))).digest;
    const leasedBlob = (await content.ingest(Buffer.from('a leased blob'))).digest;
    const expiredBlob = (await content.ingest(Buffer.from('a blob under an expired lease'))).digest;
    const orphanLayer = (await layers.apply(null, toStream(await makeTar([{ name: 'orphan', data: 'x' }])))).chainId;
    const leasedLayer = (await layers.apply(null, toStream(await makeTar([{ name: 'leased', data: 'y' }])))).chainId;
    const leases = new LeaseManager(path.join(daemon.dataRoot, 'metadata', 'leases.journal'));
    await leases.init();
    const kept = await leases.create({ scope: 'persistent', expiresInMs: 3_600_000 });
    await leases.addResource(kept.id, { type: 'content', id: leasedBlob });
    await leases.addResource(kept.id, { type: 'layer', id: leasedLayer });
    const expired = await leases.create({ scope: 'persistent', expiresInMs: 1 });
    await leases.addResource(expired.id, { type: 'content', id: expiredBlob });
    // An operation of the crashed daemon: its lease dies with it.
    const crashed = await leases.create({ scope: 'process' });
    const crashedBlob = (await content.ingest(Buffer.from('written by a crashed load'))).digest;
    await leases.addResource(crashed.id, { type: 'content', id: crashedBlob });
    await leases.close();
    await new Promise((r) => setTimeout(r, 10));

    await daemon.restart();
    const has = (d: Digest) => fs.stat(content.blobPath(d)).then(() => true, () => false);
    assert.equal(await has(orphanBlob), false, 'orphan blob kept');
    assert.equal(await has(expiredBlob), false, 'blob of an expired lease kept');
    assert.equal(await has(crashedBlob), false, 'blob of a crashed operation kept');
    assert.equal(await has(leasedBlob), true, 'leased blob removed');
    // The snapshotter on disk (re-read) has no such snapshot and no directory without a record.
    const reread = new OverlaySnapshotter(path.join(daemon.dataRoot, 'snapshots'));
    await reread.init();
    const rereadLayers = new SnapshotLayers(reread);
    assert.equal(await rereadLayers.get(orphanLayer), undefined, 'orphan layer kept');
    assert.ok(await rereadLayers.get(leasedLayer), 'leased layer removed');
    const names: string[] = [];
    await reread.walk((info) => {
      names.push(info.name);
    });
    const dirs = (await fs.readdir(path.join(daemon.dataRoot, 'snapshots'))).filter((n) => n !== 'metadata.json' && !n.startsWith('.'));
    assert.equal(dirs.length, names.length, `snapshot dirs ${dirs.join(' ')} for snapshots ${names.join(' ')}`);
    // The images are whole.
    const listed = await apiRequest(daemon.socket, 'GET', '/images/json');
    assert.match(listed.body, /busybox:latest/);
    const run = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(run.status, 201, run.body);
    await apiRequest(daemon.socket, 'DELETE', `/containers/${(JSON.parse(run.body) as { Id: string }).Id}?force=1`);
  });
});

function toStream(buf: Buffer): Readable {
  return Readable.from([buf]);
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still waiting after ${ms} ms behind the stalled load`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
