import { nowMs, median, sleep } from './lib/stats';
import type { BenchRow } from './lib/report';
import type { EngineApi } from './lib/engine-api';
import type { BenchContext } from './context';

const IMAGE = 'busybox';
const COUNT = 30;
const SLEEPER = ['sleep', '1000'];
const SETTLE_MS = 2000;

/**
 * 30 × `run -d busybox sleep 1000` (create + start through the API), one after another
 * like a shell loop, and all at once; the containers are removed between rounds. The
 * median of `rounds` rounds is reported.
 */
export async function benchRunDetached(ctx: BenchContext): Promise<BenchRow[]> {
  const { berth, docker, podman } = ctx;
  const rounds = ctx.detachedRounds;
  const sequential = async (api: EngineApi) => {
    const start = nowMs();
    for (let i = 0; i < COUNT; i++) await api.runDetached(IMAGE, SLEEPER);
    const elapsed = nowMs() - start;
    await api.removeAll();
    return elapsed;
  };
  const concurrent = async (api: EngineApi) => {
    const start = nowMs();
    // Named: berth's generated names can collide between creates in flight (a bug reported to the lead).
    await Promise.all(Array.from({ length: COUNT }, (_, i) => api.runDetached(IMAGE, SLEEPER, `bench-concurrent-${i}`)));
    const elapsed = nowMs() - start;
    await api.removeAll();
    return elapsed;
  };
  const repeat = async (fn: () => Promise<number>) => {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      times.push(await fn());
      // Let the last round's teardown (exits, background deletions) finish before timing again.
      await sleep(SETTLE_MS);
    }
    return median(times);
  };
  const podmanSequential = async () => {
    const start = nowMs();
    for (let i = 0; i < COUNT; i++) await podman!.cli!(['run', '-d', '--network', 'none', IMAGE, ...SLEEPER]);
    const elapsed = nowMs() - start;
    await podman!.cli!(['rm', '-af', '-t', '0']);
    return elapsed;
  };
  return [
    {
      benchmark: `${COUNT} × run -d sleeper, sequential`,
      unit: 'ms',
      berth: await repeat(() => sequential(berth.api)),
      docker: docker ? await repeat(() => sequential(docker.api)) : undefined,
      podman: podman ? await repeat(podmanSequential) : undefined,
      target: 2500,
    },
    {
      benchmark: `${COUNT} × run -d sleeper, concurrent`,
      unit: 'ms',
      berth: await repeat(() => concurrent(berth.api)),
      docker: docker ? await repeat(() => concurrent(docker.api)) : undefined,
    },
  ];
}
