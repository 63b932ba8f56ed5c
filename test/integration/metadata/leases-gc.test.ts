import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { apiRequest, bootstrapBusybox, isRoot, startTestDaemon, TestDaemon } from '../../helpers/test-daemon';
import { LocalContentStore } from '../../../src/content/local/store';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { SnapshotUnpacker } from '../../../src/snapshots/unpacker';
import { LeaseManager } from '../../../src/metadata/leases';
import { makeTar } from '../images/helpers';
import { digestOf, type Digest } from '../../../src/util/digest';
import { ImageMetadataStore, refKey } from '../../../src/metadata/images';
import { createHash } from 'node:crypto';

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
    const layers = new SnapshotUnpacker(snapshotter);
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
    const rereadLayers = new SnapshotUnpacker(reread);
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


describe('image records, stale ingests and listings across restarts', { skip }, () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(() => daemon?.stop());

  it('a store of version 1 image records (no references) is migrated at start, and its images stay whole', async () => {
    await daemon.crash();
    const dir = path.join(daemon.dataRoot, 'images');
    const current = new ImageMetadataStore(dir);
    await current.init();
    const records = current.list();
    const refs = current.allRefs();
    await current.close();
    assert.ok(records.length > 0 && records.every((r) => r.schemaVersion === 2 && r.references !== undefined));
    // The journal as the berth before references wrote it: version 1 records, references unknown.
    const ops: unknown[] = [];
    for (const { references: _dropped, ...r } of records) ops.push(['p', `image/${r.id}`, { ...r, schemaVersion: 1 }]);
    for (const { ref, id } of refs) ops.push(['p', `ref/${refKey(ref)}`, id]);
    const json = JSON.stringify({ ops });
    await fs.writeFile(
      path.join(dir, 'metadata', 'images.journal'),
      `${JSON.stringify({ berth: 'journal', kind: 'images', schemaVersion: 1 })}\n${createHash('sha256').update(json).digest('hex').slice(0, 16)} ${json}\n`,
    );

    await daemon.restart();
    const migrated = new ImageMetadataStore(dir);
    assert.deepEqual(await migrated.init(), { migrated: 0, unreadable: 0 }, 'the daemon did not write the migration');
    for (const r of records) assert.deepEqual(migrated.get(r.id), { ...r, schemaVersion: 2 }, `record ${r.id}`);
    await migrated.close();
    // The collection at start marked from the migrated records: every blob they name is there, and busybox runs.
    const content = new LocalContentStore(path.join(daemon.dataRoot, 'content'));
    for (const r of records) {
      assert.equal(await content.has(r.target.digest), true, 'manifest collected');
      assert.equal(await content.has(r.references!.config), true, 'config collected');
    }
    const run = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(run.status, 201, run.body);
    await apiRequest(daemon.socket, 'DELETE', `/containers/${(JSON.parse(run.body) as { Id: string }).Id}?force=1`);
  });

  it('a stale named ingest is removed at start; one a persistent lease holds survives and resumes after the restart', async () => {
    await daemon.crash();
    const content = new LocalContentStore(path.join(daemon.dataRoot, 'content'));
    await content.init();
    const upload = Buffer.from('the first half, and the second half');
    for (const ref of ['abandoned-upload', 'leased-upload']) {
      const w = await content.writer({ ref, total: upload.length });
      await w.write(upload.subarray(0, 15));
      await w.close();
      await backdateIngest(daemon.dataRoot, ref, 25 * 3_600_000); // older than the default expiry (24 h)
    }
    const leases = new LeaseManager(path.join(daemon.dataRoot, 'metadata', 'leases.journal'));
    await leases.init();
    const lease = await leases.create({ scope: 'persistent', expiresInMs: 3_600_000 });
    await leases.addResource(lease.id, { type: 'ingest', id: 'leased-upload' });
    await leases.close();

    await daemon.restart();
    assert.deepEqual((await content.listIngests()).map((i) => i.ref), ['leased-upload']);
    const resumed = await content.writer({ ref: 'leased-upload' });
    assert.equal(resumed.status().offset, 15);
    await resumed.write(upload.subarray(15));
    const blob = await resumed.commit({ digest: digestOf(upload), size: upload.length });
    assert.deepEqual(await content.readBlob(blob.digest), upload);
    await content.delete(blob.digest);
  });

  it('images answers follow tags and removals (no stale listing)', async () => {
    const tags = async () => {
      const res = await apiRequest(daemon.socket, 'GET', '/images/json');
      assert.equal(res.status, 200, res.body);
      return (JSON.parse(res.body) as Array<{ RepoTags: string[] }>).flatMap((i) => i.RepoTags).sort();
    };
    assert.ok((await tags()).includes('busybox:latest'));
    assert.equal((await apiRequest(daemon.socket, 'POST', '/images/busybox/tag?repo=listing-check&tag=1')).status, 201);
    assert.ok((await tags()).includes('listing-check:1'));
    assert.equal((await apiRequest(daemon.socket, 'DELETE', '/images/listing-check:1')).status, 200);
    assert.ok(!(await tags()).includes('listing-check:1'));
  });
});

/** Makes a named ingest look untouched for `ms` (its recorded start and its data's mtime). */
async function backdateIngest(dataRoot: string, ref: string, ms: number): Promise<void> {
  const dir = path.join(dataRoot, 'content', 'content', 'ingest', createHash('sha256').update(ref).digest('hex'));
  const meta = JSON.parse(await fs.readFile(path.join(dir, 'meta.json'), 'utf8')) as { startedAt: number };
  await fs.writeFile(path.join(dir, 'meta.json'), JSON.stringify({ ...meta, startedAt: meta.startedAt - ms }));
  const then = new Date(Date.now() - ms);
  await fs.utimes(path.join(dir, 'data'), then, then);
}

function toStream(buf: Buffer): Readable {
  return Readable.from([buf]);
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still waiting after ${ms} ms behind the stalled load`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
