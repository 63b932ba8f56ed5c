import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, isRoot, startTestDaemon, TestDaemon } from '../../helpers/test-daemon';
import { LocalContentStore } from '../../../src/content/local/store';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { SnapshotUnpacker } from '../../../src/snapshots/unpacker';
import { listMountsUnder } from '../../../src/snapshots/overlay/mountinfo';
import { ImageMetadataStore } from '../../../src/metadata/images';
import { ContainerStore } from '../../../src/metadata/containers';
import { parseImageConfig, parseManifest } from '../../../src/images/models';
import { chainIds, type Digest } from '../../../src/util/digest';

const skip = !isRoot ? 'needs root (runc, overlay mounts)' : false;

type Outcome = { status: number; body: string } | undefined;

/** Starts a request and returns a getter for its answer (undefined while none arrived). */
function startRequest(socket: string, method: string, urlPath: string, body?: Buffer | object, chunked?: { pieces: number; gapMs: number }): () => Outcome {
  let outcome: Outcome;
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const req = http.request({
    socketPath: socket,
    method,
    path: urlPath,
    headers: payload ? { 'Content-Type': Buffer.isBuffer(body) ? 'application/x-tar' : 'application/json', 'Content-Length': payload.length } : {},
  });
  req.on('response', (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => (outcome = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined); // the daemon is killed under it
  if (payload && chunked) {
    const size = Math.ceil(payload.length / chunked.pieces);
    let i = 0;
    const next = () => {
      if (req.destroyed) return;
      const piece = payload.subarray(i * size, (i + 1) * size);
      i++;
      if (i >= chunked.pieces) req.end(piece);
      else {
        req.write(piece);
        setTimeout(next, chunked.gapMs);
      }
    };
    next();
  } else req.end(payload);
  return () => outcome;
}

async function getBytes(socket: string, urlPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path: urlPath }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${urlPath}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))));
      })
      .on('error', reject);
  });
}

const json = <T>(r: { body: string }) => JSON.parse(r.body) as T;

describe('kill -9 of the daemon during load, commit, rm and prune', { skip }, () => {
  let daemon: TestDaemon;
  let archive: Buffer;
  let source: string;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    // A container with a few MB of changes: commits of it take a while, and so does loading its image.
    const created = await apiRequest(daemon.socket, 'POST', '/containers/create?name=source', {
      Image: 'busybox',
      Cmd: ['sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=12 2>/dev/null; mkdir -p /d && echo hi > /d/f'],
    });
    assert.equal(created.status, 201, created.body);
    source = json<{ Id: string }>(created).Id;
    await apiRequest(daemon.socket, 'POST', `/containers/${source}/start`);
    await apiRequest(daemon.socket, 'POST', `/containers/${source}/wait`);
    const committed = await apiRequest(daemon.socket, 'POST', `/commit?container=${source}&repo=big&tag=1`);
    assert.equal(committed.status, 201, committed.body);
    archive = await getBytes(daemon.socket, '/images/big:1/get');
    assert.equal((await apiRequest(daemon.socket, 'DELETE', '/images/big:1')).status, 200);
  });
  after(() => daemon?.stop());

  /** After a restart: what the API shows is whole, then (daemon down) nothing on disk lacks an owner. */
  async function checkAfterRestart(expect: { images: string[]; containers: string[]; absentImages?: string[]; absentContainers?: string[] }, label: string): Promise<void> {
    const images = json<Array<{ Id: string; RepoTags: string[] }>>(await apiRequest(daemon.socket, 'GET', '/images/json?all=1'));
    for (const name of expect.images) assert.ok((await apiRequest(daemon.socket, 'GET', `/images/${name}/json`)).status === 200, `${label}: image ${name} lost`);
    for (const name of expect.absentImages ?? []) assert.equal((await apiRequest(daemon.socket, 'GET', `/images/${name}/json`)).status, 404, `${label}: removed image ${name} is back`);
    // Every image can be saved: all of its blobs are there.
    for (const image of images) await getBytes(daemon.socket, `/images/${image.Id}/get`);
    for (const id of expect.containers) assert.equal((await apiRequest(daemon.socket, 'GET', `/containers/${id}/json`)).status, 200, `${label}: container ${id} lost`);
    for (const id of expect.absentContainers ?? []) assert.equal((await apiRequest(daemon.socket, 'GET', `/containers/${id}/json`)).status, 404, `${label}: removed container ${id} is back`);

    await daemon.crash();
    const root = daemon.dataRoot;
    assert.deepEqual(await listMountsUnder(root), [], `${label}: mounts left`);
    const metadata = new ImageMetadataStore(path.join(root, 'images'));
    const containers = new ContainerStore(path.join(root, 'containers'));
    const content = new LocalContentStore(path.join(root, 'content'));
    const snapshotter = new OverlaySnapshotter(path.join(root, 'snapshots'));
    await Promise.all([metadata.init(), containers.init(), content.init(), snapshotter.init()]);
    const layers = new SnapshotUnpacker(snapshotter);
    const blobs = new Set<string>();
    const chains = new Set<string>();
    /** Layer blobs of committed layers are made only when needed (save): the layer stands for them. */
    const lazyBlobs = new Set<string>();
    for (const record of metadata.list()) {
      const manifest = parseManifest(await content.readBlob(record.target.digest), record.target.mediaType);
      const config = parseImageConfig(await content.readBlob(manifest.config.digest));
      for (const d of [record.target.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) blobs.add(d);
      const imageChains = chainIds(config.rootfs.diff_ids);
      for (const c of imageChains) chains.add(c);
      for (const [i, l] of manifest.layers.entries()) if (l.digest === config.rootfs.diff_ids[i] && (await layers.get(imageChains[i]))) lazyBlobs.add(l.digest);
    }
    const all = await layers.list();
    const parentOf = new Map(all.map((l) => [l.chainId, l.parent]));
    for (const c of containers.list()) for (let p = c.ImageChainId as Digest | null; p; p = parentOf.get(p) ?? null) chains.add(p);
    const onDisk = (await content.list()).map((b) => b.digest);
    assert.deepEqual(onDisk.filter((d) => !blobs.has(d)), [], `${label}: orphan blobs`);
    assert.deepEqual([...blobs].filter((d) => !onDisk.includes(d as Digest) && !lazyBlobs.has(d)), [], `${label}: referenced blobs missing`);
    assert.deepEqual(all.map((l) => l.chainId).filter((c) => !chains.has(c)), [], `${label}: orphan layers`);
    const known = new Set(containers.list().map((c) => c.Id));
    // Every snapshot has an owner: a committed one is a referenced layer, an active one a container's RW layer.
    const snapshots: Array<{ name: string; kind: string }> = [];
    await snapshotter.walk((info) => {
      snapshots.push({ name: info.name, kind: info.kind });
    });
    assert.deepEqual(snapshots.filter((i) => (i.kind === 'committed' ? !chains.has(i.name) : !known.has(i.name))), [], `${label}: orphan snapshots`);
    const snapshotDirs = (await fs.readdir(path.join(root, 'snapshots'))).filter((n) => n !== 'metadata.json' && !n.startsWith('.'));
    assert.equal(snapshotDirs.length, snapshots.length, `${label}: snapshot dirs ${snapshotDirs.join(' ')} for ${snapshots.length} snapshots`);
    const roots = (await fs.readdir(path.join(root, 'rootfs')).catch(() => [] as string[])).filter((n) => /^[a-f0-9]{64}$/.test(n));
    assert.deepEqual(roots.filter((id) => !known.has(id)), [], `${label}: orphan RW layers`);
    const containerDirs = (await fs.readdir(path.join(root, 'containers'))).filter((n) => /^[a-f0-9]{64}$/.test(n));
    assert.deepEqual(containerDirs.filter((id) => !known.has(id)), [], `${label}: orphan container dirs`);
    await Promise.all([metadata.close(), containers.close()]);
    await daemon.restart();
  }

  const killPoints = [15, 120, 400];
  /** Whether each kill came before the operation answered: at least one per operation must have, or the test proved nothing. */
  const assertSomeKilledMidway = (answers: Outcome[], op: string) =>
    assert.ok(answers.some((a) => a === undefined), `every ${op} finished before its kill: ${JSON.stringify(answers.map((a) => a?.status))}`);

  it('load', async () => {
    const answers: Outcome[] = [];
    for (const delay of killPoints) {
      const answer = startRequest(daemon.socket, 'POST', '/images/load?quiet=1', archive, { pieces: 8, gapMs: 40 });
      await new Promise((r) => setTimeout(r, delay));
      const before = answer();
      answers.push(before);
      await daemon.crash();
      await daemon.restart();
      const loaded = before?.status === 200;
      await checkAfterRestart({ images: ['busybox:latest', ...(loaded ? ['big:1'] : [])], containers: [source] }, `load killed after ${delay} ms`);
      await apiRequest(daemon.socket, 'DELETE', '/images/big:1');
    }
    assertSomeKilledMidway(answers, 'load');
  });

  it('commit', async () => {
    const answers: Outcome[] = [];
    for (const delay of killPoints) {
      const answer = startRequest(daemon.socket, 'POST', `/commit?container=${source}&repo=committed&tag=${delay}`);
      await new Promise((r) => setTimeout(r, delay));
      const before = answer();
      answers.push(before);
      await daemon.crash();
      await daemon.restart();
      const done = before?.status === 201;
      await checkAfterRestart({ images: ['busybox:latest', ...(done ? [`committed:${delay}`] : [])], containers: [source] }, `commit killed after ${delay} ms`);
    }
    assertSomeKilledMidway(answers, 'commit');
  });

  it('rm', async () => {
    const answers: Outcome[] = [];
    for (const delay of [0, 5, 40]) {
      const created = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '100'] });
      const { Id } = json<{ Id: string }>(created);
      await apiRequest(daemon.socket, 'POST', `/containers/${Id}/start`);
      const answer = startRequest(daemon.socket, 'DELETE', `/containers/${Id}?force=1`);
      await new Promise((r) => setTimeout(r, delay));
      const before = answer();
      answers.push(before);
      await daemon.crash();
      await daemon.restart();
      const removed = before?.status === 204;
      // A container still there after the kill is stopped or running; remove it for the check.
      if (!removed) await apiRequest(daemon.socket, 'DELETE', `/containers/${Id}?force=1`);
      await checkAfterRestart({ images: ['busybox:latest'], containers: [source], absentContainers: [Id] }, `rm killed after ${delay} ms`);
    }
    assertSomeKilledMidway(answers, 'rm');
  });

  it('prune', async () => {
    const answers: Outcome[] = [];
    for (const delay of [0, 10, 60]) {
      // Two dangling images (commits without a tag) to prune.
      for (let i = 0; i < 2; i++) assert.equal((await apiRequest(daemon.socket, 'POST', `/commit?container=${source}`)).status, 201);
      const answer = startRequest(daemon.socket, 'POST', '/images/prune?filters=' + encodeURIComponent(JSON.stringify({ dangling: ['false'] })));
      await new Promise((r) => setTimeout(r, delay));
      const before = answer();
      answers.push(before);
      await daemon.crash();
      await daemon.restart();
      const pruned = before?.status === 200 ? json<{ ImagesDeleted: Array<{ Deleted?: string }> | null }>(before).ImagesDeleted ?? [] : [];
      const deletedIds = pruned.flatMap((d) => (d.Deleted?.startsWith('sha256:') ? [d.Deleted] : []));
      await checkAfterRestart({ images: ['busybox:latest'], containers: [source], absentImages: deletedIds.filter((id) => !id.includes('busybox')) }, `prune killed after ${delay} ms`);
    }
    assertSomeKilledMidway(answers, 'prune');
  });
});
