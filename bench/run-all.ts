/**
 * Runs every benchmark against a private berthd and, where installed, a private dockerd
 * and podman, all with the same busybox image, and prints one table.
 *
 *   npm run bench                      # everything
 *   node dist/bench/run-all.js run-rm  # only benchmarks whose name contains "run-rm"
 *   BENCH_RUNS=20 BENCH_WARMUPS=3 BENCH_ROUNDS=3 BENCH_NO_DOCKER=1 BENCH_NO_PODMAN=1
 */
import * as os from 'node:os';
import { diffSnapshots, snapshotNetwork } from '../test/helpers/host-network';
import { startBerth } from './lib/berth-target';
import { DOCKER_CLIENT, startDocker } from './lib/docker-target';
import { startPodman } from './lib/podman-target';
import { mustRun } from './lib/proc';
import { formatTable, type BenchRow } from './lib/report';
import { DOCKER_CLIENT_ENV } from './lib/targets';
import type { BenchContext } from './context';
import { benchIdleRss, benchMonitorRss } from './memory';
import { benchRunRm } from './run-rm';
import { benchRunDetached } from './run-detached';
import { benchLogsTail } from './logs-tail';
import { benchCommit } from './commit';
import { benchCli } from './cli';
import { benchMetadataScale } from './metadata-scale';
import { benchRegistryServer } from './registry-server';
import { benchRegistryPush } from './registry-push';
import { benchRegistryPull } from './registry-pull';
import { benchBridgeScale, benchPortThroughput, benchRunRmBridge } from './network';
import { benchBuild } from './build';

const BENCHMARKS: Array<{ name: string; run: (ctx: BenchContext) => Promise<BenchRow[]> }> = [
  // Idle RSS first: the other benchmarks grow the daemons' heaps.
  { name: 'idle-rss', run: benchIdleRss },
  { name: 'run-rm', run: benchRunRm },
  { name: 'run-detached', run: benchRunDetached },
  { name: 'monitor-rss', run: benchMonitorRss },
  { name: 'logs-tail', run: benchLogsTail },
  { name: 'commit', run: benchCommit },
  { name: 'cli', run: benchCli },
  { name: 'metadata-scale', run: benchMetadataScale },
  { name: 'registry-server', run: benchRegistryServer },
  { name: 'registry-push', run: benchRegistryPush },
  { name: 'registry-pull', run: benchRegistryPull },
  // Networking (issue 8): `node dist/bench/run-all.js net-` runs the three.
  { name: 'net-run-rm-bridge', run: benchRunRmBridge },
  { name: 'net-port-throughput', run: benchPortThroughput },
  { name: 'net-bridge-200', run: benchBridgeScale },
  { name: 'build', run: benchBuild },
];

function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmarks need root (runc, overlay mounts)');
  const filter = process.argv[2];
  const selected = BENCHMARKS.filter((b) => !filter || b.name.includes(filter));
  // As `npm test` does: the benchmarks must leave the host's network as they found it.
  const network = await snapshotNetwork();
  const berth = await startBerth();
  const stops: Array<() => Promise<void>> = [() => berth.stop()];
  try {
    const image = await berth.saveImage('busybox');
    const docker = process.env.BENCH_NO_DOCKER ? undefined : await startDocker(image);
    if (docker) stops.push(() => docker.stop());
    const podman = process.env.BENCH_NO_PODMAN ? undefined : await startPodman(image);
    if (podman) stops.push(() => podman.stop());
    const client = DOCKER_CLIENT;
    const ctx: BenchContext = {
      berth,
      docker,
      podman,
      dockerCliOnBerth: client ? async (args) => void (await mustRun(client, ['-H', `unix://${berth.socket}`, ...args], { env: DOCKER_CLIENT_ENV })) : undefined,
      runs: envInt('BENCH_RUNS', 20),
      warmups: envInt('BENCH_WARMUPS', 3),
      detachedRounds: envInt('BENCH_ROUNDS', 3),
    };
    console.log(`berth benchmarks — ${new Date().toISOString()} — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.release()}, node ${process.version}`);
    console.log(`docker: ${docker ? docker.version : 'not installed (skipped)'}; podman: ${podman ? podman.version : 'not installed (skipped)'}; medians of ${ctx.runs} runs after ${ctx.warmups} warm-ups\n`);
    const rows: BenchRow[] = [];
    for (const bench of selected) {
      process.stderr.write(`running ${bench.name}...\n`);
      rows.push(...(await bench.run(ctx)));
    }
    if (rows.length > 0) console.log(formatTable(rows));
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error('cleanup failed:', err));
  }
  const changes = diffSnapshots(network, await snapshotNetwork());
  if (changes.length > 0) throw new Error(`the benchmarks changed the host's network:\n${changes.join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
