import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { MediaTypes } from '../../../src/images/media-types';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../../../src/images/models';
import { parseDockerRef } from '../../../src/images/reference';
import { RegistryClient } from '../../../src/registry/client/hosts';
import { tarBuffer } from '../../../src/archive/tar/test-tar';
import { chainIds, digestOf, type Digest } from '../../../src/util/digest';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { distributionRegistrySkipReason, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { putManifest, uploadBlob } from '../../helpers/registry-image';
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy';
import { DOCKER_CLIENTS, berth, docker, runCommand } from '../../helpers/cli';
import { waitFor } from '../../helpers/wait';

/**
 * The engine's pull (POST /images/create?fromImage=) against Debian's docker-registry on
 * loopback: images skopeo copied from berth's own `save`, and images of gzip, zstd and
 * uncompressed layers pushed with raw requests; a proxy of the test's own in front of the
 * registry cuts or corrupts blob downloads where a failure must be injected.
 */
const skip = needsRoot('pull tests unpack layers') || distributionRegistrySkipReason() || false;

interface Msg {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  error?: string;
  errorDetail?: { message: string };
}

function messages(body: string): Msg[] {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Msg);
}

async function pull(d: TestDaemon, query: string): Promise<{ status: number; msgs: Msg[]; body: string }> {
  const res = await apiRequest(d.socket, 'POST', `/images/create?${query}`);
  return { status: res.status, body: res.body, msgs: res.status === 200 ? messages(res.body) : [] };
}

function zstd(data: Buffer): Buffer {
  const out = spawnSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 1 << 28 });
  if (out.status !== 0) throw new Error(`zstd: ${out.stderr.toString()}`);
  return out.stdout;
}

interface LayeredImage {
  manifest: Buffer;
  manifestDesc: Descriptor;
  config: Buffer;
  configDesc: Descriptor;
  layers: Array<{ blob: Buffer; desc: Descriptor; diffId: Digest }>;
}

/** A busybox-based image: busybox's own layers (as the registry has them) plus layers of the given compressions, each adding a file. */
function layeredImage(base: { layers: Array<{ blob: Buffer; desc: Descriptor; diffId: Digest }>; config: ImageConfig }, kinds: Array<'gzip' | 'zstd' | 'none'>, platform: Platform = { os: 'linux', architecture: 'amd64' }, tagText = ''): LayeredImage {
  const layers = [...base.layers];
  for (const [i, kind] of kinds.entries()) {
    const raw = tarBuffer([{ name: 'data/', type: 'directory' }, { name: `data/${kind}-${i}.txt`, body: `${kind} layer ${i}${tagText}\n` }]);
    const blob = kind === 'gzip' ? gzipSync(raw) : kind === 'zstd' ? zstd(raw) : raw;
    const mediaType = kind === 'gzip' ? MediaTypes.ociLayerGzip : kind === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer;
    layers.push({ blob, desc: { mediaType, digest: digestOf(blob), size: blob.length }, diffId: digestOf(raw) });
  }
  const config: ImageConfig = { ...base.config, architecture: platform.architecture, os: platform.os, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history: undefined };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.length };
  const m: ImageManifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: layers.map((l) => ({ mediaType: l.desc.mediaType, digest: l.desc.digest, size: l.desc.size })) };
  const manifest = Buffer.from(JSON.stringify(m));
  return { manifest, manifestDesc: { mediaType: MediaTypes.ociManifest, digest: digestOf(manifest), size: manifest.length }, config: configBytes, configDesc, layers };
}

describe('pull from docker-registry', { skip }, () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let d: TestDaemon;
  const client = new RegistryClient();
  let busybox: { layers: Array<{ blob: Buffer; desc: Descriptor; diffId: Digest }>; config: ImageConfig; manifestDigest: string };

  async function push(repo: string, tag: string, image: LayeredImage): Promise<void> {
    const session = client.session(parseDockerRef(`${registry.host}/${repo}:${tag}`), { actions: ['pull', 'push'] });
    for (const l of image.layers) await uploadBlob(session, l.blob, l.desc.digest);
    await uploadBlob(session, image.config, image.configDesc.digest);
    await putManifest(session, tag, image.manifest, image.manifestDesc.mediaType);
  }

  before(async () => {
    registry = await startDistributionRegistry();
    proxy = await startFaultProxy(registry.host);
    d = await startTestDaemon({ hostNetwork: true });
    await bootstrapBusybox(d);
    // berth's busybox, saved and copied into the registry by skopeo: a docker-archive → registry path of a real peer.
    const archive = path.join(d.root, 'busybox.tar');
    const saved = await berth(d.host, ['save', '-o', archive, 'busybox:latest']);
    assert.equal(saved.code, 0, saved.stderr);
    const copied = await runCommand('/usr/bin/skopeo', ['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${registry.host}/lib/busybox:1`]);
    assert.equal(copied.code, 0, copied.stderr);
    const removed = await berth(d.host, ['rmi', 'busybox:latest']);
    assert.equal(removed.code, 0, removed.stderr);
    const session = client.session(parseDockerRef(`${registry.host}/lib/busybox:1`));
    const resolved = await session.resolve();
    const layers = [];
    for (const [i, desc] of resolved.manifest.manifest.layers.entries()) {
      const { stream } = await session.openBlob(desc);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      layers.push({ blob: Buffer.concat(chunks), desc, diffId: resolved.config.config.rootfs.diff_ids[i] });
    }
    busybox = { layers, config: resolved.config.config, manifestDigest: resolved.digest };
  });
  after(async () => {
    client.close();
    await d?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  test('an image skopeo copied: dockerd\'s messages, RepoDigests, runs; a second pull is up to date', async () => {
    const name = `${registry.host}/lib/busybox`;
    const res = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=1`);
    assert.equal(res.status, 200, res.body);
    const layerId = busybox.layers[0].desc.digest.slice(7, 19);
    const statuses = res.msgs.filter((m) => m.status !== 'Downloading').map((m) => [m.status, m.id ?? '']);
    assert.deepEqual(statuses, [
      ['Pulling from lib/busybox', '1'],
      ['Pulling fs layer', layerId],
      ['Verifying Checksum', layerId],
      ['Download complete', layerId],
      ['Extracting', layerId],
      ['Pull complete', layerId],
      [`Digest: ${busybox.manifestDigest}`, ''],
      [`Status: Downloaded newer image for ${name}:1`, ''],
    ]);
    const downloads = res.msgs.filter((m) => m.status === 'Downloading');
    assert.ok(downloads.length >= 1);
    const last = downloads[downloads.length - 1];
    assert.deepEqual(last.progressDetail, { current: busybox.layers[0].desc.size, total: busybox.layers[0].desc.size });
    assert.match(last.progress ?? '', /^\[=+>\] +\d/);
    assert.deepEqual(Object.keys(last), ['status', 'progressDetail', 'progress', 'id']);
    assert.ok(res.body.includes('=\\u003e]'), 'the bar is escaped as Go writes it');

    const inspect = JSON.parse((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:1`)}/json`)).body) as { RepoTags: string[]; RepoDigests: string[] };
    assert.deepEqual(inspect.RepoTags, [`${name}:1`]);
    assert.deepEqual(inspect.RepoDigests, [`${name}@${busybox.manifestDigest}`]);
    const ran = await berth(d.host, ['run', '--rm', `${name}:1`, 'echo', 'pulled']);
    assert.equal(ran.stdout, 'pulled\n', ran.stderr);
    const events = await apiRequest(d.socket, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["image"],"event":["pull"]}')}`);
    const pulled = messages(events.body) as Array<{ Actor?: { ID: string; Attributes: Record<string, string> } }>;
    assert.deepEqual(pulled.map((e) => e.Actor), [{ ID: `${name}:1`, Attributes: { name } }]);

    const again = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=1`);
    assert.deepEqual(again.msgs, [
      { status: 'Pulling from lib/busybox', id: '1' },
      { status: `Digest: ${busybox.manifestDigest}` },
      { status: `Status: Image is up to date for ${name}:1` },
    ]);
    const byDigest = await pull(d, `fromImage=${encodeURIComponent(`${name}@${busybox.manifestDigest}`)}`);
    assert.equal(byDigest.msgs[0].id, busybox.manifestDigest);
    assert.equal(byDigest.msgs.at(-1)?.status, `Status: Image is up to date for ${name}@${busybox.manifestDigest}`);
  });

  test('layers in gzip, zstd and plain tar, unpacked while they download; a shared base shows Already exists', async () => {
    const image = layeredImage(busybox, ['gzip', 'zstd', 'none']);
    await push('team/layers', 'v1', image);
    const name = `${registry.host}/team/layers`;
    const res = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}:v1`, res.body);
    const ids = image.layers.map((l) => l.desc.digest.slice(7, 19));
    // busybox's layer is unpacked already (the first test pulled it); the three new ones are pulled, completed in order.
    assert.deepEqual(res.msgs.filter((m) => m.status === 'Already exists').map((m) => m.id), [ids[0]]);
    assert.deepEqual(res.msgs.filter((m) => m.status === 'Pull complete').map((m) => m.id), ids.slice(1));
    const ran = await berth(d.host, ['run', '--rm', `${name}:v1`, 'cat', '/data/gzip-0.txt', '/data/zstd-1.txt', '/data/none-2.txt']);
    assert.equal(ran.stdout, 'gzip layer 0\nzstd layer 1\nnone layer 2\n', ran.stderr);
    const history = await berth(d.host, ['image', 'inspect', '-f', '{{len .RootFS.Layers}}', `${name}:v1`]);
    assert.equal(history.stdout.trim(), '4');
  });

  test('a cut download resumes with a Range request; an interrupted pull leaves no image, and the next one resumes its ingest', async () => {
    const image = layeredImage(busybox, ['none'], undefined, `\n${'x'.repeat(200_000)}`);
    await push('team/resume', 'v1', image);
    const top = image.layers[image.layers.length - 1];
    const name = `${proxy.host}/team/resume`;

    // Cut once: the same pull retries from where it stopped.
    proxy.requests.length = 0;
    proxy.faultBlob(top.desc.digest, [{ cutAfter: 50_000 }]);
    const res = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    assert.equal(res.msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}:v1`, res.body);
    const gets = proxy.requests.filter((r) => r.path.endsWith(top.desc.digest));
    assert.equal(gets.length, 2, JSON.stringify(proxy.requests));
    assert.match(gets[1].range ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(gets[1].range!)![0]) >= 50_000 - 65_536, gets[1].range);
    const ran = await berth(d.host, ['run', '--rm', `${name}:v1`, 'head', '-n1', '/data/none-0.txt']);
    assert.equal(ran.stdout, 'none layer 0\n', ran.stderr);
    assert.equal((await berth(d.host, ['rmi', `${name}:v1`])).code, 0);

    // Cut every time: the pull fails after its retries, with no image, no layer and no blob, but the ingest stays.
    proxy.requests.length = 0;
    proxy.faultBlob(top.desc.digest, [], { cutAfter: 1000 }); // each retry gets 1 kB further: never the whole 200 kB
    const failed = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    assert.equal(failed.status, 200);
    const error = failed.msgs.at(-1);
    assert.match(error?.errorDetail?.message ?? '', new RegExp(`${proxy.host.replace(/\./g, '\\.')}`), failed.body);
    assert.equal(error?.error, error?.errorDetail?.message);
    assert.equal((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:v1`)}/json`)).status, 404);
    await assert.rejects(fs.access(path.join(d.dataRoot, 'content', 'content', 'blobs', 'sha256', top.desc.digest.slice(7))));
    const ingests = await fs.readdir(path.join(d.dataRoot, 'content', 'content', 'ingest'));
    assert.equal(ingests.length, 1, 'the interrupted download stays for a resume');

    // The next pull resumes that ingest with a Range request from its offset.
    proxy.faultBlob(top.desc.digest, []);
    proxy.requests.length = 0;
    const resumed = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    assert.equal(resumed.msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}:v1`, resumed.body);
    const resumedGets = proxy.requests.filter((r) => r.path.endsWith(top.desc.digest));
    assert.equal(resumedGets.length, 1);
    assert.match(resumedGets[0].range ?? '', /^bytes=[1-9]\d*-$/);
    assert.deepEqual(await fs.readdir(path.join(d.dataRoot, 'content', 'content', 'ingest')), []);
    const check = await berth(d.host, ['run', '--rm', `${name}:v1`, 'head', '-n1', '/data/none-0.txt']);
    assert.equal(check.stdout, 'none layer 0\n', check.stderr);
  });

  test('a layer whose tar does not match its diff ID (checked on the extraction worker) fails the pull, and nothing of it is stored', async () => {
    const good = layeredImage(busybox, ['gzip', 'gzip'], undefined, ' diffid');
    const top = good.layers[good.layers.length - 1];
    const wrong = digestOf('not this layer');
    const config: ImageConfig = { ...(JSON.parse(good.config.toString()) as ImageConfig) };
    config.rootfs = { type: 'layers', diff_ids: [...config.rootfs.diff_ids.slice(0, -1), wrong] };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.length };
    const m: ImageManifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: good.layers.map((l) => l.desc) };
    const manifest = Buffer.from(JSON.stringify(m));
    await push('team/diffid', 'v1', { ...good, config: configBytes, configDesc, manifest, manifestDesc: { mediaType: MediaTypes.ociManifest, digest: digestOf(manifest), size: manifest.length } });
    const name = `${proxy.host}/team/diffid`;
    const res = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    const last = res.msgs.at(-1);
    assert.ok(last?.errorDetail, res.body);
    assert.match(last.errorDetail.message, new RegExp(`layer diff ID mismatch: expected ${wrong}, got ${top.diffId}`));
    assert.equal((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:v1`)}/json`)).status, 404);
    await assert.rejects(fs.access(path.join(d.dataRoot, 'content', 'content', 'blobs', 'sha256', top.desc.digest.slice(7))));
    const snapshots = await fs.readFile(path.join(d.dataRoot, 'snapshots', 'metadata.json'), 'utf8');
    assert.ok(!snapshots.includes('unpack-'), 'no unpack snapshot is left');
    assert.ok(!snapshots.includes(top.diffId.slice(7)) && !snapshots.includes(wrong.slice(7)), 'no layer of it is committed');
  });

  test('a blob that does not match its digest fails the pull as dockerd words it, and nothing of it is stored', async () => {
    const image = layeredImage(busybox, ['gzip'], undefined, ' corrupt');
    await push('team/corrupt', 'v1', image);
    const top = image.layers[image.layers.length - 1];
    const name = `${proxy.host}/team/corrupt`;
    proxy.faultBlob(top.desc.digest, [{ corruptAt: 10 }]);
    const res = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    const last = res.msgs.at(-1);
    assert.ok(last?.errorDetail, res.body);
    assert.equal(last.errorDetail.message, `filesystem layer verification failed for digest ${top.desc.digest}`);
    assert.equal((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:v1`)}/json`)).status, 404);
    await assert.rejects(fs.access(path.join(d.dataRoot, 'content', 'content', 'blobs', 'sha256', top.desc.digest.slice(7))));
    assert.deepEqual(await fs.readdir(path.join(d.dataRoot, 'content', 'content', 'ingest')), []);
  });

  test('pull -a pulls every tag; --platform picks from an index; bad names and unknown tags are HTTP errors', async () => {
    const v1 = layeredImage(busybox, ['gzip'], undefined, ' v1');
    const v2 = layeredImage(busybox, ['gzip'], undefined, ' v2');
    await push('team/tags', 'v1', v1);
    await push('team/tags', 'v2', v2);
    const name = `${registry.host}/team/tags`;
    const all = await pull(d, `fromImage=${encodeURIComponent(name)}`);
    assert.deepEqual(all.msgs.filter((m) => m.status?.startsWith('Pulling from')).map((m) => m.id), ['v1', 'v2']);
    assert.equal(all.msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}`);
    const listed = await berth(d.host, ['images', '--format', '{{.Tag}}', name]);
    assert.deepEqual(listed.stdout.trim().split('\n').sort(), ['v1', 'v2']);

    // An OCI index with amd64 and arm64 entries.
    const amd = layeredImage(busybox, ['gzip'], { os: 'linux', architecture: 'amd64' }, ' amd64');
    const arm = layeredImage(busybox, ['gzip'], { os: 'linux', architecture: 'arm64' }, ' arm64');
    await push('team/multi', 'amd', amd);
    await push('team/multi', 'arm', arm);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          { ...amd.manifestDesc, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm.manifestDesc, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    await putManifest(client.session(parseDockerRef(`${registry.host}/team/multi:x`), { actions: ['pull', 'push'] }), 'x', index, MediaTypes.ociIndex);
    const multi = `${registry.host}/team/multi`;
    const armPull = await pull(d, `fromImage=${encodeURIComponent(multi)}&tag=x&platform=linux%2Farm64`);
    assert.equal(armPull.msgs.at(-1)?.status, `Status: Downloaded newer image for ${multi}:x`, armPull.body);
    assert.ok(armPull.msgs.some((m) => m.status === `Digest: ${digestOf(index)}`), 'the index digest is the repo digest');
    const arch = await berth(d.host, ['image', 'inspect', '-f', '{{.Architecture}} {{index .RepoDigests 0}}', `${multi}:x`]);
    assert.equal(arch.stdout.trim(), `arm64 ${multi}@${digestOf(index)}`);
    const amdPull = await pull(d, `fromImage=${encodeURIComponent(multi)}&tag=x`);
    assert.equal(amdPull.msgs.at(-1)?.status, `Status: Downloaded newer image for ${multi}:x`);
    assert.equal((await berth(d.host, ['image', 'inspect', '-f', '{{.Architecture}}', `${multi}:x`])).stdout.trim(), 'amd64');

    const unknown = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=nope`);
    assert.equal(unknown.status, 404, unknown.body);
    assert.match(JSON.parse(unknown.body).message, /nope.*not found|manifest unknown/);
    const bad = await pull(d, `fromImage=${encodeURIComponent('Bad/Name')}&tag=1`);
    assert.equal(bad.status, 400, bad.body);
    // A registry that is not there: dockerd's 500 and Go's words, naming it.
    const down = await pull(d, `fromImage=${encodeURIComponent('127.0.0.1:1/team/app')}&tag=1`);
    assert.equal(down.status, 500, down.body);
    assert.equal(JSON.parse(down.body).message, 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused');
  });

  test('two pulls of one image at once both succeed; a client that goes away stops its pull, which leaves no image and is resumed by the next', async () => {
    const image = layeredImage(busybox, ['gzip', 'none'], undefined, `\n${'y'.repeat(300_000)}`);
    await push('team/together', 'v1', image);
    const name = `${proxy.host}/team/together`;
    const top = image.layers[image.layers.length - 1];
    proxy.faultBlob(top.desc.digest, [{ chunkDelayMs: 20 }, { chunkDelayMs: 20 }]);
    const [a, b] = await Promise.all([pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`), pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`)]);
    for (const res of [a, b]) {
      assert.equal(res.status, 200);
      assert.match(res.msgs.at(-1)?.status ?? '', new RegExp(`^Status: (Downloaded newer image|Image is up to date) for `), res.body);
    }
    const ran = await berth(d.host, ['run', '--rm', `${name}:v1`, 'head', '-n1', '/data/none-1.txt']);
    assert.equal(ran.stdout, 'none layer 1\n', ran.stderr);
    assert.equal((await berth(d.host, ['rmi', `${name}:v1`])).code, 0);

    // A slow download the client abandons after its first progress line.
    proxy.faultBlob(top.desc.digest, [{ chunkDelayMs: 200 }]);
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: d.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(name)}&tag=v1` }, (res) => {
        res.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes(`"Downloading","progressDetail":{"current"`) && chunk.toString().includes(top.desc.digest.slice(7, 19))) {
            req.destroy();
            resolve();
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no progress line within 30 s')), 30_000).unref();
    });
    // The pull stops: no image appears, and the interrupted download stays as an ingest.
    await waitFor(async () => (await fs.readdir(path.join(d.dataRoot, 'content', 'content', 'ingest'))).length === 1, 10_000, 'the abandoned pull to stop');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:v1`)}/json`)).status, 404);
    proxy.requests.length = 0;
    const again = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    assert.equal(again.msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}:v1`, again.body);
    const resumed = proxy.requests.filter((r) => r.path.endsWith(top.desc.digest));
    assert.match(resumed[0]?.range ?? '', /^bytes=[1-9]\d*-$/, JSON.stringify(proxy.requests));
  });

  test('docker pull through berth renders with docker CLI 20.10 and 28; run and create pull a missing image', async () => {
    const image = layeredImage(busybox, ['gzip', 'gzip'], undefined, ' cli');
    await push('team/cli', 'v1', image);
    const name = `${registry.host}/team/cli`;
    for (const client of DOCKER_CLIENTS) {
      const out = await docker(client, d.host, ['pull', `${name}:v1`]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /v1: Pulling from team\/cli/);
      assert.match(out.stdout, /Pull complete|Already exists/);
      assert.match(out.stdout, new RegExp(`Status: (Downloaded newer image|Image is up to date) for ${name.replace(/\./g, '\\.')}:v1`));
      assert.equal((await berth(d.host, ['rmi', `${name}:v1`])).code, 0);
    }
    const ran = await berth(d.host, ['run', '--rm', `${name}:v1`, 'cat', '/data/gzip-1.txt']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.split('\n').at(-2), 'gzip layer 1 cli');
    assert.match(ran.stderr, new RegExp(`^Unable to find image '${name.replace(/\./g, '\\.')}:v1' locally\n`));
    const never = await berth(d.host, ['create', '--pull', 'never', `${name}:missing`]);
    assert.notEqual(never.code, 0);
    assert.match(never.stderr, /No such image/);
    // As docker: the pull's progress goes to stderr, the container's ID alone to stdout.
    const always = await berth(d.host, ['create', '--pull', 'always', `${name}:v1`]);
    assert.equal(always.code, 0, always.stderr);
    assert.match(always.stdout, /^[0-9a-f]{64}\n$/);
    assert.match(always.stderr, new RegExp(`Status: Image is up to date for ${name.replace(/\./g, '\\.')}:v1`));
    for (const command of ['run', 'create']) {
      const invalid = await berth(d.host, [command, '--pull', 'sometimes', `${name}:v1`]);
      assert.equal(invalid.code, 125);
      assert.equal(invalid.stderr, `berth: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"\n\nRun 'berth ${command} --help' for more information\n`);
    }
    const missing = await berth(d.host, ['run', '--rm', `${name}:nope`]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, new RegExp(`^Unable to find image '${name.replace(/\./g, '\\.')}:nope' locally\nberth: Error response from daemon: manifest for ${name.replace(/\./g, '\\.')}:nope not found: manifest unknown: manifest unknown`));
  });
  test('a daemon killed mid-pull leaves no image and no half-unpacked layer; after the restart the pull resumes its download', async () => {
    const image = layeredImage(busybox, ['none'], undefined, `\n${'z'.repeat(400_000)}`);
    await push('team/crash', 'v1', image);
    const name = `${proxy.host}/team/crash`;
    const top = image.layers[image.layers.length - 1];
    proxy.faultBlob(top.desc.digest, [{ chunkDelayMs: 300 }]);
    const chain = chainIds(image.layers.map((l) => l.diffId)).at(-1)!;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: d.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(name)}&tag=v1` }, (res) => {
        // A progress line of the top layer: some of its bytes are in the ingest.
        res.on('data', (chunk: Buffer) => {
          const text = chunk.toString();
          if (text.includes(`"Downloading","progressDetail":{"current"`) && text.includes(top.desc.digest.slice(7, 19))) resolve();
        });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      req.end();
      setTimeout(() => reject(new Error('no progress line within 30 s')), 30_000).unref();
    });
    await d.crash();
    await d.restart();
    assert.equal((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:v1`)}/json`)).status, 404);
    const snapshots = await fs.readFile(path.join(d.dataRoot, 'snapshots', 'metadata.json'), 'utf8');
    assert.ok(!snapshots.includes(chain), 'the layer being unpacked is not there');
    assert.ok(!snapshots.includes('berth.io/unpack'), 'no unpack a crash interrupted is left');
    const ingestDir = createHash('sha256').update(`pull-${top.desc.digest}`).digest('hex');
    assert.ok((await fs.readdir(path.join(d.dataRoot, 'content', 'content', 'ingest'))).includes(ingestDir), 'the interrupted download stays for a resume');
    proxy.requests.length = 0;
    const again = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    assert.equal(again.msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}:v1`, again.body);
    const resumed = proxy.requests.filter((r) => r.path.endsWith(top.desc.digest));
    assert.match(resumed[0]?.range ?? '', /^bytes=[1-9]\d*-$/, JSON.stringify(proxy.requests));
    const ran = await berth(d.host, ['run', '--rm', `${name}:v1`, 'head', '-n1', '/data/none-0.txt']);
    assert.equal(ran.stdout, 'none layer 0\n', ran.stderr);
  });

  test('a layer that fails to unpack while another still downloads fails the pull, and the daemon lives', async () => {
    const good = layeredImage(busybox, ['gzip', 'gzip'], undefined, ' racing');
    const wrongAt = good.layers.length - 2;
    const slow = good.layers[good.layers.length - 1];
    const wrong = digestOf('not the middle layer');
    const config: ImageConfig = { ...(JSON.parse(good.config.toString()) as ImageConfig) };
    config.rootfs = { type: 'layers', diff_ids: config.rootfs.diff_ids.map((d, i) => (i === wrongAt ? wrong : d)) };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.length };
    const m: ImageManifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: good.layers.map((l) => l.desc) };
    const manifest = Buffer.from(JSON.stringify(m));
    await push('team/racing', 'v1', { ...good, config: configBytes, configDesc, manifest, manifestDesc: { mediaType: MediaTypes.ociManifest, digest: digestOf(manifest), size: manifest.length } });
    // The top layer is still downloading when the one below it fails its diff ID check. Its
    // download is cut then and kept as an ingest for the next pull to resume, as any cut pull's
    // is: hence last in this suite, whose other tests count the ingests.
    proxy.faultBlob(slow.desc.digest, [{ chunkDelayMs: 1500 }]);
    const name = `${proxy.host}/team/racing`;
    const res = await pull(d, `fromImage=${encodeURIComponent(name)}&tag=v1`);
    const last = res.msgs.at(-1);
    assert.ok(last?.errorDetail, res.body);
    assert.match(last.errorDetail.message, new RegExp(`layer diff ID mismatch: expected ${wrong}, got ${good.layers[wrongAt].diffId}`));
    assert.equal((await apiRequest(d.socket, 'GET', '/_ping')).status, 200, 'the daemon lives');
    assert.equal((await apiRequest(d.socket, 'GET', `/images/${encodeURIComponent(`${name}:v1`)}/json`)).status, 404);
  });
});
