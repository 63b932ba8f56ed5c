import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseJsonStream } from '../../../src/client';
import type { JsonStreamMessage } from '../../../src/client/types';
import { makeFixtureImage, writeDockerArchive } from '../../helpers/fixture-image';
import { privateDockerdSkipReason, startPrivateDockerd, type PrivateDockerd } from '../../helpers/private-dockerd';
import { distributionRegistrySkipReason, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';

/**
 * The same image (seven plain layers, from one docker-save archive) pushed by a real dockerd
 * 20.10 and by berth to one Debian docker-registry, into repositories of their own: the JSON
 * progress streams must agree message for message in shape and status (digests, sizes and
 * the repository prefix aside; layers interleave as they finish, so each layer's statuses are
 * compared in order): a first push, a second one, and one to another repository (a mount).
 */
const skip = needsRoot() || (distributionRegistrySkipReason() ?? false) || (privateDockerdSkipReason() ?? false);

function post(socket: string, urlPath: string, headers: Record<string, string>, body?: NodeJS.ReadableStream): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'POST', path: `/v1.41${urlPath}`, headers: body ? headers : { ...headers, 'Content-Length': 0 } }, resolve);
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

async function stream(socket: string, urlPath: string, headers: Record<string, string> = {}, body?: NodeJS.ReadableStream): Promise<JsonStreamMessage[]> {
  const res = await post(socket, urlPath, headers, body);
  const out: JsonStreamMessage[] = [];
  for await (const m of parseJsonStream<JsonStreamMessage>(res)) out.push(m);
  assert.ok((res.statusCode ?? 0) < 300, `${urlPath}: ${res.statusCode} ${JSON.stringify(out)}`);
  return out;
}

/** A message with what legitimately differs masked: digests, sizes, byte counts, the engine's repository prefix. */
function normalize(m: JsonStreamMessage, prefix: string): string {
  const shape: Record<string, unknown> = { ...m };
  if (m.progressDetail && Object.keys(m.progressDetail).length > 0) shape.progressDetail = Object.keys(m.progressDetail).sort();
  if (m.progress !== undefined) shape.progress = 'bar';
  if (m.aux) shape.aux = Object.keys(m.aux).sort();
  return JSON.stringify(shape)
    .replace(/sha256:[a-f0-9]{64}/g, 'sha256:D')
    .replace(/size: \d+/g, 'size: N')
    .split(`${prefix}/`)
    .join('X/')
    .replace(/Mounted from [a-z]\//, 'Mounted from X/');
}

/** The messages without an id, in order; and each layer's messages in order (consecutive repeats merged). */
function summary(list: JsonStreamMessage[], prefix: string): { global: string[]; layers: string[][] } {
  const global: string[] = [];
  const byId = new Map<string, string[]>();
  for (const m of list) {
    const n = normalize({ ...m, ...(m.id ? { id: 'L' } : {}) }, prefix);
    if (!m.id) {
      global.push(n);
      continue;
    }
    const seq = byId.get(m.id) ?? [];
    if (seq.at(-1) !== n) seq.push(n);
    byId.set(m.id, seq);
  }
  return { global, layers: [...byId.values()].map((s) => s).sort((a, b) => (a.join() < b.join() ? -1 : 1)) };
}

describe('push: berth and dockerd 20.10 send the same progress stream', { skip }, () => {
  let tmp: string;
  let registry: TestRegistry;
  let dockerd: PrivateDockerd;
  let daemon: TestDaemon;
  const auth = { 'X-Registry-Auth': Buffer.from('{}').toString('base64') };

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'push-parity-'));
    const image = await makeFixtureImage(path.join(tmp, 'layout'), { dataLayers: [700_000, 50_000, 60_000, 70_000, 80_000, 90_000], compression: 'none', seed: 'push-parity' });
    const archive = path.join(tmp, 'app.tar');
    await writeDockerArchive(image, archive, 'parity/app:v1');
    registry = await startDistributionRegistry();
    dockerd = await startPrivateDockerd();
    await registry.exposeIn(dockerd.netns);
    daemon = await startTestDaemon({ hostNetwork: true });
    for (const socket of [dockerd.socket, daemon.socket]) await stream(socket, '/images/load?quiet=1', { 'Content-Type': 'application/x-tar' }, createReadStream(archive));
  });
  after(async () => {
    await daemon?.stop();
    await dockerd?.stop();
    await registry?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  async function pushBoth(repo: string): Promise<{ docker: ReturnType<typeof summary>; berth: ReturnType<typeof summary> }> {
    const result: Record<string, ReturnType<typeof summary>> = {};
    for (const [engine, socket] of [['d', dockerd.socket], ['b', daemon.socket]] as const) {
      const name = `${registry.host}/${engine}/${repo}`;
      await post(socket, `/images/parity/app:v1/tag?repo=${encodeURIComponent(name)}&tag=v1`, {}).then((r) => r.resume());
      const list = await stream(socket, `/images/${name}/push?tag=v1`, auth);
      assert.equal(list.filter((m) => m.error).length, 0, `${engine}: ${JSON.stringify(list.at(-1))}`);
      result[engine] = summary(list, `${registry.host}/${engine}`);
    }
    return { docker: result.d!, berth: result.b! };
  }

  test('first push (plain layers gzipped on the way), second push, and a push to another repository', async () => {
    const first = await pushBoth('app');
    assert.deepEqual(first.berth, first.docker);
    assert.ok(first.docker.layers.every((l) => l.some((m) => m.includes('"Pushed"'))), JSON.stringify(first.docker));
    // Seven layers, five uploads at a time: the two bottom ones wait, on both.
    assert.equal(first.docker.layers.filter((l) => l.some((m) => m.includes('"Waiting"'))).length, 2, JSON.stringify(first.docker));
    const again = await pushBoth('app');
    assert.deepEqual(again.berth, again.docker);
    assert.ok(again.docker.layers.every((l) => l.some((m) => m.includes('Layer already exists'))));
    const mounted = await pushBoth('other');
    assert.deepEqual(mounted.berth, mounted.docker);
    assert.ok(mounted.docker.layers.every((l) => l.some((m) => m.includes('Mounted from X/app'))), JSON.stringify(mounted.docker));
  });
});
