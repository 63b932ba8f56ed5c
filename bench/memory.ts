import { mean, sleep } from './lib/stats';
import { rssBytes } from './lib/proc';
import type { BenchRow } from './lib/report';
import type { BenchTarget } from './lib/targets';
import type { BenchContext } from './context';

const MB = 1024 * 1024;
const SLEEPERS = 10;

async function sumRss(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += await rssBytes(pid);
  return total;
}

/** Daemon RSS while idle: berthd alone vs dockerd + its containerd. Run before anything else. */
export async function benchIdleRss(ctx: BenchContext): Promise<BenchRow[]> {
  await sleep(1000);
  const berth = (await sumRss(await ctx.berth.daemonPids())) / MB;
  const docker = ctx.docker ? (await sumRss(await ctx.docker.daemonPids())) / MB : undefined;
  return [{ benchmark: 'daemon idle RSS (busybox loaded)', unit: 'MB', berth, docker, target: 70 }];
}

/** Mean RSS of the per-container helper with 10 sleepers: berth-monitor vs containerd-shim vs conmon. */
export async function benchMonitorRss(ctx: BenchContext): Promise<BenchRow[]> {
  const perContainer = async (target: BenchTarget, start: () => Promise<void>, cleanup: () => Promise<void>) => {
    for (let i = 0; i < SLEEPERS; i++) await start();
    await sleep(500);
    const pids = await target.monitorPids();
    const rss = pids.length ? (await sumRss(pids)) / pids.length / MB : NaN;
    const daemon = (await sumRss(await target.daemonPids())) / MB;
    await cleanup();
    return { rss, daemon };
  };
  const berth = await perContainer(ctx.berth, async () => void (await ctx.berth.api.runDetached('busybox', ['sleep', '1000'])), () => ctx.berth.api.removeAll());
  const docker = ctx.docker
    ? await perContainer(ctx.docker, async () => void (await ctx.docker!.api.runDetached('busybox', ['sleep', '1000'])), () => ctx.docker!.api.removeAll())
    : undefined;
  const podman = ctx.podman
    ? await perContainer(ctx.podman, () => ctx.podman!.cli!(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']), () => ctx.podman!.cli!(['rm', '-af', '-t', '0']))
    : undefined;
  return [
    { benchmark: `monitor RSS per container (${SLEEPERS} running)`, unit: 'MB', berth: berth.rss, docker: docker?.rss, podman: podman?.rss, target: 2.5 },
    { benchmark: `daemon RSS with ${SLEEPERS} running`, unit: 'MB', berth: berth.daemon, docker: docker?.daemon },
  ];
}
