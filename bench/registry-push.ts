import { createReadStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIG_IMAGE_LAYERS, makeFixtureImage, writeDockerArchive } from '../test/helpers/fixture-image';
import type { PrivateNetns } from '../test/helpers/private-netns';
import { distributionRegistrySkipReason } from '../test/helpers/registry';
import { startDistributionIn } from './lib/distribution-in-netns';
import type { BenchRow } from './lib/report';
import { median, nowMs } from './lib/stats';
import type { BenchContext } from './context';

/**
 * `docker push` of the ~110 MB 3-layer fixture image (test/helpers/fixture-image.ts) to an
 * empty Debian docker-registry (distribution 2.8) on loopback, through each daemon's API
 * (`POST /images/{name}/push`, read to the end), a fresh registry every run:
 * each engine (berthd and the private dockerd) lives in a network namespace of its own, so its
 * registry is started inside that namespace, on its loopback: no proxy in the way.
 * Two rows for berth: the image as `docker load` (or a pull) stores it, layers gzip, pushed
 * as they are; and an image whose layers are stored uncompressed (commit, import, a docker
 * archive of plain tars), which the first push gzips on the way (a new image every run, since
 * the gzip blobs are kept for the next push). dockerd keeps layers uncompressed and gzips on
 * every push, so its number is the same work in both rows (measured once).
 * `BENCH_RUNS`/4 runs, at least 3, berth and docker alternating.
 */
export async function benchRegistryPush(ctx: BenchContext): Promise<BenchRow[]> {
  const skip = distributionRegistrySkipReason();
  if (skip) {
    console.log(`registry push benchmark skipped: ${skip}\n`);
    return [];
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'brp-'));
  try {
    const image = await makeFixtureImage(path.join(tmp, 'image'), { dataLayers: BIG_IMAGE_LAYERS });
    const archive = path.join(tmp, 'big.tar');
    await writeDockerArchive(image, archive, 'bench/big:latest');
    await loadArchive(ctx.berth.socket, archive);
    if (ctx.docker) await loadArchive(ctx.docker.socket, archive);
    const runs = Math.max(3, Math.floor(ctx.runs / 4));
    const berthTimes: number[] = [];
    const dockerTimes: number[] = [];
    const rawTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const pushBerth = async () => berthTimes.push(await pushToFresh(ctx.berth.socket, 'bench/big:latest', ctx.berth.netns));
      const docker = ctx.docker;
      const pushDocker = async () => {
        if (docker) dockerTimes.push(await pushToFresh(docker.socket, 'bench/big:latest', docker.netns));
      };
      if (i % 2 === 0) {
        await pushBerth();
        await pushDocker();
      } else {
        await pushDocker();
        await pushBerth();
      }
      // An image with uncompressed layers, new each run (its gzip blobs are kept after a push).
      const raw = await makeFixtureImage(path.join(tmp, `raw-${i}`), { dataLayers: BIG_IMAGE_LAYERS, compression: 'none', seed: `push-raw-${i}-${Date.now()}` });
      const rawArchive = path.join(tmp, `raw-${i}.tar`);
      await writeDockerArchive(raw, rawArchive, `bench/raw${i}:latest`);
      await loadArchive(ctx.berth.socket, rawArchive);
      await fs.rm(path.join(tmp, `raw-${i}`), { recursive: true, force: true });
      await fs.rm(rawArchive, { force: true });
      rawTimes.push(await pushToFresh(ctx.berth.socket, `bench/raw${i}:latest`, ctx.berth.netns));
      await call(ctx.berth.socket, 'DELETE', `/images/bench/raw${i}:latest?force=1`);
    }
    const docker = dockerTimes.length > 0 ? median(dockerTimes) : undefined;
    const mb = (image.totalLayerBytes / 1e6).toFixed(0);
    return [
      { benchmark: `push ${mb} MB, 3 layers, empty registry (API; layers stored gzip)`, unit: 'ms', berth: median(berthTimes), docker },
      { benchmark: `push ${mb} MB, 3 layers, empty registry (API; layers stored plain, gzipped on the way)`, unit: 'ms', berth: median(rawTimes), docker },
    ];
  } finally {
    // registry-pull (next in a run of both) pulls the same fixture layers and waits for them to
    // be collected after each pull: an image still holding them here would keep them forever.
    await call(ctx.berth.socket, 'DELETE', '/images/bench/big:latest?force=1').catch(() => undefined);
    if (ctx.docker) await call(ctx.docker.socket, 'DELETE', '/images/bench/big:latest?force=1').catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Tags `image` into a new empty registry inside the engine's network namespace, times the push, then removes tag and registry. */
async function pushToFresh(socket: string, image: string, netns: PrivateNetns): Promise<number> {
  const registry = await startDistributionIn(netns);
  const repo = `${registry.host}/bench/big`;
  try {
    await call(socket, 'POST', `/images/${image}/tag?repo=${encodeURIComponent(repo)}&tag=1`);
    const start = nowMs();
    const body = await call(socket, 'POST', `/images/${repo}/push?tag=1`, { 'X-Registry-Auth': Buffer.from('{}').toString('base64') });
    const ms = nowMs() - start;
    if (body.includes('"error"') || !body.includes('1: digest: ')) throw new Error(`push to ${repo} failed: ${body.slice(-500)}`);
    return ms;
  } finally {
    await call(socket, 'DELETE', `/images/${repo}:1`).catch(() => undefined);
    await registry.stop();
  }
}

/** An API call with headers; resolves with the whole body (a push's stream read to its end). */
function call(socket: string, method: string, urlPath: string, headers: Record<string, string> = {}, body?: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: `/v1.41${urlPath}`, headers: body ? headers : { ...headers, 'Content-Length': 0 } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

async function loadArchive(socket: string, archive: string): Promise<void> {
  const body = await call(socket, 'POST', '/images/load?quiet=1', { 'Content-Type': 'application/x-tar' }, createReadStream(archive));
  if (body.includes('"error"')) throw new Error(`load of ${archive} failed: ${body}`);
}
