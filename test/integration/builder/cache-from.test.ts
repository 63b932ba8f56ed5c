import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { contextTar, postBuild, type BuildResponse, type ContextEntry } from '../../helpers/build-context';
import { DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import { distributionRegistrySkipReason, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';

/**
 * `--cache-from`: an image built on one daemon, carried to another one with an empty build
 * cache (docker save/load, or a registry), serves as the cache of the same build there:
 * every step is "Using cache" (no RUN container) and the result is the same image ID.
 */
const DOCKERFILE = ['FROM busybox', 'ENV APP=/app', 'WORKDIR $APP', 'COPY deps.txt ./', 'RUN cat deps.txt > installed.txt', 'COPY src/ ./src/', 'RUN ls src > listing', 'CMD ["cat", "listing"]', ''].join('\n');
const FILES: ContextEntry[] = [
  { name: 'Dockerfile', content: DOCKERFILE },
  { name: 'deps.txt', content: 'dep-a\n' },
  { name: 'src', type: 'directory' },
  { name: 'src/one.txt', content: '1\n' },
  { name: 'src/two.txt', content: '2\n' },
];
const STEPS = 7; // every instruction after FROM

interface Outcome {
  imageId: string;
  usingCache: number;
  containers: number;
}

async function buildOn(daemon: TestDaemon, query: string, files: ContextEntry[] = FILES): Promise<Outcome> {
  const r: BuildResponse = await postBuild(daemon.socket, query, await contextTar(files));
  assert.equal(r.status, 200, r.body);
  assert.ok(!r.body.includes('"error"'), r.body);
  const streams = r.messages.map((m) => (typeof m.stream === 'string' ? m.stream : ''));
  const aux = r.messages.filter((m) => m.aux !== undefined).map((m) => (m.aux as { ID: string }).ID);
  return { imageId: aux[aux.length - 1] ?? '', usingCache: streams.filter((s) => s === ' ---> Using cache\n').length, containers: streams.filter((s) => s.startsWith(' ---> Running in ')).length };
}

function download(socket: string, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function upload(socket: string, path: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'POST', path, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cacheFrom = (ref: string) => `cachefrom=${encodeURIComponent(JSON.stringify([ref]))}`;

describe('--cache-from on a daemon with an empty build cache', { skip: needsRoot() }, () => {
  let builder: TestDaemon;
  let built: Outcome;
  before(async () => {
    builder = await startTestDaemon();
    await bootstrapBusybox(builder);
    built = await buildOn(builder, 't=app:1');
    assert.equal(built.usingCache, 0);
  });
  after(async () => {
    await builder?.stop();
  });

  it('an image docker save/load carried over: every step from it, the same image ID; a changed file reruns from its COPY', async (t) => {
    const fresh = await startTestDaemon();
    t.after(() => fresh.stop());
    await upload(fresh.socket, '/v1.41/images/load?quiet=1', await download(builder.socket, '/v1.41/images/get?names=app:1&names=busybox'));

    // Without --cache-from every step runs: this daemon has no cache for the build (and now a cache of its own, off app:1's chain).
    const alone = await buildOn(fresh, 't=app:0');
    assert.equal(alone.usingCache, 0);
    assert.equal(alone.containers, 2);

    // With it, the local entries off app:1's chain are passed over (as dockerd does) and every step comes from app:1.
    const reused = await buildOn(fresh, `t=app:2&${cacheFrom('app:1')}`);
    assert.deepEqual(reused, { imageId: built.imageId, usingCache: STEPS, containers: 0 });
    const inspect = JSON.parse((await apiRequest(fresh.socket, 'GET', '/images/app:2/json')).body) as { Id: string };
    assert.equal(inspect.Id, built.imageId);

    // deps.txt changed: ENV and WORKDIR still come from app:1, its COPY and everything after run.
    const changed = await buildOn(fresh, `t=app:3&${cacheFrom('app:1')}`, FILES.map((f) => (f.name === 'deps.txt' ? { ...f, content: 'dep-b\n' } : f)));
    assert.equal(changed.usingCache, 2);
    assert.equal(changed.containers, 2);
    assert.notEqual(changed.imageId, built.imageId);

    // The steps taken from app:1 are kept as this daemon's cache (dockerd keeps the images it restores): no RUN runs again.
    const after = await buildOn(fresh, 't=app:4');
    assert.equal(after.containers, 0);
    assert.ok(after.usingCache >= STEPS - 1, `${after.usingCache} steps from the cache`);
  });

  it('a --cache-from image that is nowhere is skipped with a warning, and the build runs', async (t) => {
    const fresh = await startTestDaemon();
    t.after(() => fresh.stop());
    await bootstrapBusybox(fresh);
    const r = await postBuild(fresh.socket, `t=app:5&pull=0&${cacheFrom('no-such/image:1')}`, await contextTar(FILES));
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /Could not look up no-such\/image:1 for cache resolution, skipping/);
    assert.ok(r.messages.some((m) => m.aux !== undefined) && !r.body.includes('"error"'), r.body);
  });

  describe('from a registry', { skip: distributionRegistrySkipReason() ?? (DOCKER_CLIENTS[0] ? false : 'no docker CLI') }, () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startDistributionRegistry();
      await registry.exposeIn(builder.netns!);
    });
    after(async () => {
      await registry?.stop();
    });

    it('an image another daemon pushed is pulled for --cache-from, and every step comes from it', async (t) => {
      const ref = `${registry.host}/cache/app:1`;
      const cli = (daemon: TestDaemon, args: string[]) => runCommand(DOCKER_CLIENTS[0]!, ['-H', daemon.host, ...args], { env: { DOCKER_CLI_HINTS: 'false' }, timeoutMs: 180_000 });
      for (const args of [['tag', 'app:1', ref], ['push', ref]]) {
        const r = await cli(builder, args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      }
      const fresh = await startTestDaemon();
      t.after(() => fresh.stop());
      await registry.exposeIn(fresh.netns!);
      await bootstrapBusybox(fresh);
      const reused = await buildOn(fresh, `t=app:6&${cacheFrom(ref)}`);
      assert.deepEqual(reused, { imageId: built.imageId, usingCache: STEPS, containers: 0 });
    });
  });
});
