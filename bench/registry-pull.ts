import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIG_IMAGE_LAYERS, makeFixtureImage, type FixtureImage } from '../test/helpers/fixture-image';
import type { PrivateNetns } from '../test/helpers/private-netns';
import { distributionRegistrySkipReason } from '../test/helpers/registry';
import { startDistributionIn } from './lib/distribution-in-netns';
import { SKOPEO, skopeoSkipReason } from '../test/helpers/skopeo';
import { mustRun } from './lib/proc';
import { waitCollected } from './lib/store-collected';
import type { BenchRow } from './lib/report';
import { median, nowMs } from './lib/stats';
import type { BenchContext } from './context';

/**
 * `docker pull` of the ~110 MB 3-layer fixture image (test/helpers/fixture-image.ts: busybox
 * and two 54.5 MB layers of incompressible data, gzip) from Debian's docker-registry on
 * loopback into a clean store: the image and its layers are removed (and, for berth, garbage
 * collected) before every run, so each pull downloads, verifies and unpacks its two data
 * layers (busybox's layer is the engines' own busybox: "Already exists" for all alike).
 *  - berth and docker: `POST /images/create` read to its end, each engine's registry inside
 *    the engine's own network namespace, on its loopback (seeded by skopeo run there);
 *  - podman: `podman pull --tls-verify=false`, the registry inside podman's namespace.
 * `BENCH_RUNS`/4 runs, at least 3; the engines alternate within a run.
 */
export async function benchRegistryPull(ctx: BenchContext): Promise<BenchRow[]> {
  const skip = distributionRegistrySkipReason() ?? skopeoSkipReason();
  if (skip) {
    console.log(`registry pull benchmark skipped: ${skip}\n`);
    return [];
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'brl-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const image = await makeFixtureImage(path.join(tmp, 'image'), { dataLayers: BIG_IMAGE_LAYERS });
    const berthRegistry = await startDistributionIn(ctx.berth.netns, tmp);
    stops.push(berthRegistry.stop);
    await seed(image, berthRegistry.host, ctx.berth.netns);
    const dockerRegistry = ctx.docker ? await startDistributionIn(ctx.docker.netns, tmp) : undefined;
    if (dockerRegistry) {
      stops.push(dockerRegistry.stop);
      await seed(image, dockerRegistry.host, ctx.docker!.netns);
    }
    const podmanRegistry = ctx.podman ? await startDistributionIn(ctx.podman.netns, tmp) : undefined;
    if (podmanRegistry) {
      stops.push(podmanRegistry.stop);
      await seed(image, podmanRegistry.host, ctx.podman!.netns);
    }

    const times: Record<'berth' | 'docker' | 'podman', number[]> = { berth: [], docker: [], podman: [] };
    const pulls: Array<[keyof typeof times, () => Promise<number>]> = [['berth', () => pullBerth(ctx, berthRegistry.host, image)]];
    if (ctx.docker && dockerRegistry) {
      const socket = ctx.docker.socket;
      pulls.push(['docker', () => pullApi(socket, `${dockerRegistry.host}/bench/big`, image)]);
    }
    if (ctx.podman && podmanRegistry) {
      const podman = ctx.podman;
      pulls.push(['podman', () => pullPodman(podman.command, `${podmanRegistry.host}/bench/big:1`)]);
    }
    const runs = Math.max(3, Math.floor(ctx.runs / 4));
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? pulls : [...pulls].reverse();
      for (const [engine, pull] of order) times[engine].push(await pull());
    }
    const mb = (image.totalLayerBytes / 1e6).toFixed(0);
    return [
      {
        benchmark: `pull ${mb} MB, 3 layers, loopback registry, clean store (API)`,
        unit: 'ms',
        berth: median(times.berth),
        docker: times.docker.length > 0 ? median(times.docker) : undefined,
        podman: times.podman.length > 0 ? median(times.podman) : undefined,
        target: 900,
      },
    ];
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** skopeo copy of the fixture's OCI layout into `host` (inside `netns` when given). */
async function seed(image: FixtureImage, host: string, netns: PrivateNetns | undefined): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false', image.skopeoRef, `docker://${host}/bench/big:1`];
  const command = netns ? netns.command(SKOPEO!, args) : { file: SKOPEO!, args };
  await mustRun(command.file, command.args);
}

/** berth: the image removed, then its blobs and layers collected (in the background after rmi), then the pull timed. */
async function pullBerth(ctx: BenchContext, host: string, image: FixtureImage): Promise<number> {
  const name = `${host}/bench/big`;
  await call(ctx.berth.socket, 'DELETE', `/images/${name}:1`).catch(() => undefined);
  await waitCollected(path.join(ctx.berth.root, 'data'), image, dataLayers(image));
  return pullApi(ctx.berth.socket, name, image);
}

/** POST /images/create read to its end; the image removed first (dockerd removes layers at once). */
async function pullApi(socket: string, name: string, image: FixtureImage): Promise<number> {
  await call(socket, 'DELETE', `/images/${name}:1`).catch(() => undefined);
  const start = nowMs();
  const body = await call(socket, 'POST', `/images/create?fromImage=${encodeURIComponent(name)}&tag=1`);
  const ms = nowMs() - start;
  if (body.includes('"error"') || !body.includes('Downloaded newer image')) throw new Error(`pull of ${name} failed: ${body.slice(-500)}`);
  if (dataLayers(image).some((l) => !body.includes(`"Pull complete","progressDetail":{},"id":"${l.digest.slice(7, 19)}"`))) throw new Error(`pull of ${name} did not pull every data layer: ${body.slice(-800)}`);
  return ms;
}

async function pullPodman(command: (args: string[]) => { file: string; args: string[] }, ref: string): Promise<number> {
  const rmi = command(['rmi', '-f', ref]);
  await mustRun(rmi.file, rmi.args).catch(() => undefined);
  const pull = command(['pull', '-q', '--tls-verify=false', ref]);
  const start = nowMs();
  await mustRun(pull.file, pull.args);
  return nowMs() - start;
}

/**
 * The fixture's data layers: its first layer is busybox, which every engine here has already
 * (the bench's busybox image), so it is "Already exists" for all of them alike.
 */
function dataLayers(image: FixtureImage): FixtureImage['layers'] {
  return image.layers.slice(1);
}

/** An API call; resolves with the whole body (a pull's stream read to its end). */
function call(socket: string, method: string, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: `/v1.41${urlPath}`, headers: { 'Content-Length': 0 } }, (res) => {
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
    req.end();
  });
}
