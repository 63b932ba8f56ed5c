import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDockerRef } from '../src/images/reference';
import { RegistryClient } from '../src/registry/client';
import { BIG_IMAGE_LAYERS, makeFixtureImage, FixtureImage } from '../test/helpers/fixture-image';
import { berthRegistrySkipReason, distributionRegistrySkipReason, startBerthRegistry, startDistributionRegistry, TestRegistry } from '../test/helpers/registry';
import { skopeoCopy, skopeoSkipReason } from '../test/helpers/skopeo';
import { startTestDaemon } from '../test/helpers/test-daemon';
import { EngineApi } from './lib/engine-api';
import { waitCollected } from './lib/store-collected';
import type { BenchRow } from './lib/report';
import { median, nowMs } from './lib/stats';
import type { BenchContext } from './context';

/**
 * berth's registry server (`berth registry serve`) against Debian's docker-registry
 * (distribution 2.8), with the same client, on loopback, with the ~110 MB 3-layer fixture
 * image (test/helpers/fixture-image.ts):
 *  - push: `skopeo copy oci:… docker://…` into an empty registry (a fresh one each run);
 *  - pull: `skopeo copy docker://… oci:…` into an empty folder, 3 per run and server, the two
 *    servers (both up) taking turns;
 *  - 50 concurrent pulls of the image from one registry by berth's own registry client
 *    (one client each, so 50 sets of connections): resolve the manifest, then stream every
 *    layer (3 at a time per pull, as dockerd does) through SHA-256 and compare with its
 *    digest; the bytes are not stored, so the registry is what is measured. Every pull must
 *    succeed;
 *  - berthd's own pull (`POST /images/create`) into a clean store (a warm daemon on the host's
 *    network with `--bridge none`, reaching the registry on loopback as skopeo does; the image
 *    removed and collected before each pull) from each server: berth's engine as the client.
 * Runs alternate between the two servers so the machine's load hits both alike. Prints its
 * own table (the main table's columns are engines); `BENCH_RUNS`/4 runs, at least 3 (berthd pulls: `BENCH_RUNS`).
 */
/** skopeo pulls from each server per run (each run pushes once to a fresh server of each kind). */
const PULLS_PER_RUN = 3;
const CONCURRENT_PULLS = Number(process.env.BENCH_CONCURRENT_PULLS) > 0 ? Number(process.env.BENCH_CONCURRENT_PULLS) : 50;

type Kind = TestRegistry['kind'];
const START: Record<Kind, () => Promise<TestRegistry>> = { berth: () => startBerthRegistry(), distribution: () => startDistributionRegistry() };

export async function benchRegistryServer(ctx: BenchContext): Promise<BenchRow[]> {
  const skip = skopeoSkipReason() ?? berthRegistrySkipReason() ?? distributionRegistrySkipReason();
  if (skip) {
    console.log(`registry server benchmark skipped: ${skip}\n`);
    return [];
  }
  const loadBefore = loadAverage();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'brs-'));
  try {
    const image = await makeFixtureImage(path.join(tmp, 'image'), { dataLayers: BIG_IMAGE_LAYERS });
    const runs = Math.max(3, Math.floor(ctx.runs / 4));
    const times: Record<string, Record<Kind, number[]>> = { push: { berth: [], distribution: [] }, pull: { berth: [], distribution: [] } };
    const cpu: Record<string, Record<Kind, number[]>> = { push: { berth: [], distribution: [] }, pull: { berth: [], distribution: [] } };
    for (let i = 0; i < runs; i++) {
      const order: Kind[] = i % 2 === 0 ? ['berth', 'distribution'] : ['distribution', 'berth'];
      const registries: Partial<Record<Kind, TestRegistry>> = {};
      try {
        for (const kind of order) {
          const registry = (registries[kind] = await START[kind]());
          const cpuAtStart = cpuMs(registry.pid);
          times.push![kind].push(await timeSkopeo(image.skopeoRef, `docker://${registry.host}/bench/big:1`));
          cpu.push![kind].push(cpuMs(registry.pid) - cpuAtStart);
        }
        // Pulls are cheap (~0.6 s): PULLS_PER_RUN of each per run, the servers taking turns.
        for (let j = 0; j < PULLS_PER_RUN; j++) {
          for (const kind of j % 2 === 0 ? [...order].reverse() : order) {
            const registry = registries[kind]!;
            const dest = path.join(tmp, `pull-${kind}`);
            const cpuAtStart = cpuMs(registry.pid);
            times.pull![kind].push(await timeSkopeo(`docker://${registry.host}/bench/big:1`, `oci:${dest}:1`));
            cpu.pull![kind].push(cpuMs(registry.pid) - cpuAtStart);
            await fs.rm(dest, { recursive: true, force: true });
          }
        }
      } finally {
        for (const registry of Object.values(registries)) await registry.stop();
      }
    }
    // Warm pulls into one daemon are cheap (~0.5 s): BENCH_RUNS of them, against the noise.
    const engine = await berthdPulls(image, Math.max(3, ctx.runs));
    const concurrent: Record<Kind, { ms: number; cpuMs: number; errors: string[] }> = {
      berth: await concurrentPulls('berth', image),
      distribution: await concurrentPulls('distribution', image),
    };
    const mb = (image.totalLayerBytes / 1e6).toFixed(0);
    const lines: Array<[string, number, number, string]> = [
      [`skopeo copy push, ${mb} MB, 3 layers`, median(times.push!.berth), median(times.push!.distribution), 'not slower'],
      [`skopeo copy pull, ${mb} MB, 3 layers`, median(times.pull!.berth), median(times.pull!.distribution), 'not slower'],
      [`${CONCURRENT_PULLS} concurrent pulls (berth client, verified)`, concurrent.berth.ms, concurrent.distribution.ms, 'no error'],
    ];
    if (engine) lines.push([`berthd pull (API), ${mb} MB, clean store`, median(engine.berth), median(engine.distribution), 'not slower']);
    console.log(`registry servers (${runs} runs each, skopeo pulls ${times.pull!.berth.length}, ${engine ? `berthd pulls ${engine.berth.length}, ` : ''}medians): berth registry serve vs Debian docker-registry 2.8; load average ${loadBefore} before, ${loadAverage()} after`);
    console.log(formatTable(lines, concurrent));
    console.log('registry/berth = docker-registry time / berth time: above 1.00× berth is faster, below it is slower');
    for (const kind of ['berth', 'distribution'] as const) {
      for (const e of concurrent[kind].errors.slice(0, 5)) console.log(`  ${kind} concurrent pull error: ${e}`);
    }
    if (!engine) console.log('  berthd pull: skipped, this berthd cannot pull from registries');
    // CPU time of the server process itself: on this 2-core machine wall times move with the
    // load (and the 50 pulls' wall time is mostly the client's hashing), CPU time much less.
    console.log(
      `registry server CPU time (ms, medians): push berth ${median(cpu.push!.berth).toFixed(0)} / docker-registry ${median(cpu.push!.distribution).toFixed(0)}; ` +
        `pull ${median(cpu.pull!.berth).toFixed(0)} / ${median(cpu.pull!.distribution).toFixed(0)}; ` +
        `${CONCURRENT_PULLS} concurrent pulls ${concurrent.berth.cpuMs.toFixed(0)} / ${concurrent.distribution.cpuMs.toFixed(0)}`,
    );
    console.log('');
    return [];
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function timeSkopeo(src: string, dest: string): Promise<number> {
  const start = nowMs();
  const r = await skopeoCopy(src, dest, { timeoutMs: 600_000 });
  const ms = nowMs() - start;
  if (r.code !== 0) throw new Error(`skopeo copy ${src} ${dest} failed: ${r.stderr}`);
  return ms;
}

/** Wall time of CONCURRENT_PULLS pulls at once from a fresh registry holding the image; failed pulls are listed. */
async function concurrentPulls(kind: Kind, image: FixtureImage): Promise<{ ms: number; cpuMs: number; errors: string[] }> {
  const registry = await START[kind]();
  try {
    const r = await skopeoCopy(image.skopeoRef, `docker://${registry.host}/bench/big:1`, { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`skopeo copy to ${kind} registry failed: ${r.stderr}`);
    const ref = parseDockerRef(`${registry.host}/bench/big:1`);
    const errors: string[] = [];
    const cpuAtStart = cpuMs(registry.pid);
    const start = nowMs();
    await Promise.all(
      Array.from({ length: CONCURRENT_PULLS }, async () => {
        try {
          await verifiedPull(new RegistryClient(), ref, image);
        } catch (err: unknown) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }),
    );
    return { ms: nowMs() - start, cpuMs: cpuMs(registry.pid) - cpuAtStart, errors };
  } finally {
    await registry.stop();
  }
}

/**
 * berthd pulls of the image from each server into a clean store; undefined when berthd cannot
 * pull (501). One daemon for all runs, on the host's network with --bridge none (a pull needs
 * no container network, and such a berthd changes nothing on the host): it reaches the
 * registries straight on loopback, as skopeo does. In a namespace of its own, the netns
 * forwarders' equal cost (~0.8 s a pull) hid the servers' difference, as did a fresh daemon's
 * first-pull costs (module loading, JIT: ~0.4 s a pull). A first pull from each server warms
 * it; before every timed pull the image is removed and its blobs and layers collected, so
 * each timed pull downloads, verifies and unpacks all three layers (registry-pull.ts does
 * the same).
 */
async function berthdPulls(image: FixtureImage, runs: number): Promise<Record<Kind, number[]> | undefined> {
  const registries = { berth: await START.berth(), distribution: await START.distribution() };
  const daemon = await startTestDaemon({ args: ['--log-level', 'info'], hostNetwork: true });
  const api = new EngineApi(daemon.socket);
  try {
    for (const registry of Object.values(registries)) {
      const r = await skopeoCopy(image.skopeoRef, `docker://${registry.host}/bench/big:1`, { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`skopeo copy to ${registry.kind} registry failed: ${r.stderr}`);
    }
    const pull = async (kind: Kind): Promise<number | undefined> => {
      for (const registry of Object.values(registries)) await api.request('DELETE', `/images/${encodeURIComponent(`${registry.host}/bench/big:1`)}`);
      await waitCollected(daemon.dataRoot, image);
      const start = nowMs();
      const res = await api.request('POST', `/images/create?fromImage=${encodeURIComponent(`${registries[kind].host}/bench/big`)}&tag=1`);
      const ms = nowMs() - start;
      if (res.status === 501) return undefined;
      if (res.status !== 200 || res.body.includes('"errorDetail"')) throw new Error(`berthd pull from the ${kind} registry failed: ${res.status} ${res.body.slice(-500)}`);
      if (image.layers.some((l) => !res.body.includes(`"Pull complete","progressDetail":{},"id":"${l.digest.slice(7, 19)}"`))) throw new Error(`berthd pull from the ${kind} registry did not pull every layer: ${res.body.slice(-800)}`);
      return ms;
    };
    for (const kind of ['berth', 'distribution'] as const) if ((await pull(kind)) === undefined) return undefined;
    const times: Record<Kind, number[]> = { berth: [], distribution: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of i % 2 === 0 ? (['berth', 'distribution'] as const) : (['distribution', 'berth'] as const)) times[kind].push((await pull(kind))!);
    }
    return times;
  } finally {
    api.close();
    await daemon.stop();
    await registries.berth.stop();
    await registries.distribution.stop();
  }
}

async function verifiedPull(client: RegistryClient, ref: ReturnType<typeof parseDockerRef>, image: FixtureImage): Promise<void> {
  const session = client.session(ref);
  const resolved = await session.resolve();
  if (resolved.digest !== image.manifestDigest) throw new Error(`resolved ${resolved.digest}, expected ${image.manifestDigest}`);
  const layers = [...resolved.manifest.manifest.layers];
  const worker = async () => {
    for (let layer = layers.shift(); layer; layer = layers.shift()) {
      const blob = await session.openBlob(layer);
      const hash = createHash('sha256');
      await pipeline(blob.stream, new Writable({ write: (chunk: Buffer, _enc, cb) => (hash.update(chunk), cb()) }));
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== layer.digest) throw new Error(`layer ${layer.digest} arrived as ${digest}`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}

function formatTable(lines: Array<[string, number, number, string]>, concurrent: Record<Kind, { errors: string[] }>): string {
  const header = ['benchmark', 'berth', 'docker-registry', 'registry/berth', 'target', 'result'];
  const rows = lines.map(([name, berth, dist, target]) => {
    const passed = target === 'no error' ? concurrent.berth.errors.length === 0 : berth <= dist;
    const note = target === 'no error' ? ` (errors: berth ${concurrent.berth.errors.length}, docker-registry ${concurrent.distribution.errors.length})` : '';
    return [name, `${berth.toFixed(0)} ms`, `${dist.toFixed(0)} ms`, `${(dist / berth).toFixed(2)}×`, target, (passed ? 'pass' : 'FAIL') + note];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(render)].join('\n');
}

/** User + system CPU time of a process so far, in ms (/proc/<pid>/stat, in USER_HZ = 100 ticks a second); NaN without a pid. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The 1-minute load average: the machine's other work moves these numbers. */
function loadAverage(): string {
  return os.loadavg()[0]!.toFixed(1);
}
