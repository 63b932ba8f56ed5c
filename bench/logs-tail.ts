import { median, sample } from './lib/stats';
import { rssBytes } from './lib/proc';
import type { BenchRow } from './lib/report';
import type { BenchContext } from './context';

const MB = 1024 * 1024;
/** BENCH_LOG_MB overrides the log size (default 1 GiB). */
const LOG_BYTES = (Number(process.env.BENCH_LOG_MB) || 1024) * MB;
/** 80-byte lines, as a chatty service writes them. */
const LINE = 'x'.repeat(79);

async function daemonRss(ctx: BenchContext): Promise<number> {
  let total = 0;
  for (const pid of await ctx.berth.daemonPids()) total += await rssBytes(pid);
  return total;
}

/**
 * `logs --tail 10` on a container whose log is 1 GiB (written by the container itself,
 * through berth-monitor): the median time of the API call, and the daemon's RSS before and
 * after the runs (flat: the reader seeks back from the end instead of reading the log).
 */
export async function benchLogsTail(ctx: BenchContext): Promise<BenchRow[]> {
  const api = ctx.berth.api;
  const created = JSON.parse(
    await api.mustRequest('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', `yes ${LINE} | head -c ${LOG_BYTES}; echo last line`] }),
  ) as { Id: string };
  try {
    await api.mustRequest('POST', `/containers/${created.Id}/start`);
    await api.mustRequest('POST', `/containers/${created.Id}/wait`);
    const before = await daemonRss(ctx);
    let answer = '';
    const times = await sample(ctx.runs, ctx.warmups, async () => {
      answer = await api.mustRequest('GET', `/containers/${created.Id}/logs?stdout=1&stderr=1&tail=10`);
    });
    // Ten multiplexed frames, the last one the container's last line.
    if (!answer.endsWith('last line\n') || answer.split(LINE).length !== 10) throw new Error(`unexpected --tail 10 answer: ${JSON.stringify(answer.slice(-200))}`);
    const after = await daemonRss(ctx);
    const label = LOG_BYTES >= 1024 * MB ? `${LOG_BYTES / 1024 / MB} GB` : `${LOG_BYTES / MB} MB`;
    return [
      { benchmark: `logs --tail 10, ${label} log (API)`, unit: 'ms', berth: median(times), target: 100 },
      { benchmark: `daemon RSS before those runs`, unit: 'MB', berth: before / MB },
      { benchmark: `daemon RSS after those runs`, unit: 'MB', berth: after / MB },
    ];
  } finally {
    await api.request('DELETE', `/containers/${created.Id}?force=1`);
  }
}
