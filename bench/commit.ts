import { median, sample } from './lib/stats';
import type { EngineApi } from './lib/engine-api';
import type { BenchRow } from './lib/report';
import type { BenchContext } from './context';

/** A RW layer worth committing: 32 MB in one file and 2,000 small files. */
const WRITE = 'dd if=/dev/urandom of=/big bs=1M count=32 2>/dev/null && mkdir /many && i=0; while [ $i -lt 2000 ]; do echo $i > /many/f$i; i=$((i+1)); done';

/** Median `docker commit` (pause=0) of a stopped container with that layer; each new image removed again. */
async function commitTimes(api: EngineApi, runs: number, warmups: number): Promise<number[]> {
  const created = JSON.parse(await api.mustRequest('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', WRITE] })) as { Id: string };
  try {
    await api.mustRequest('POST', `/containers/${created.Id}/start`);
    await api.mustRequest('POST', `/containers/${created.Id}/wait`);
    let n = 0;
    return await sample(runs, warmups, async () => {
      const tag = `c${n++}`;
      await api.mustRequest('POST', `/commit?container=${created.Id}&repo=bench-commit&tag=${tag}&pause=0`);
      await api.mustRequest('DELETE', `/images/bench-commit:${tag}`);
    });
  } finally {
    await api.request('DELETE', `/containers/${created.Id}?force=1`);
  }
}

/**
 * `docker commit` of a 32 MB + 2,000-file RW layer, through the API. berth copies the layer
 * into a new snapshot and hashes its tar (no blob written); dockerd writes the layer tar
 * and unpacks it. Includes removing the image again after each commit.
 */
export async function benchCommit(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = Math.max(3, Math.floor(ctx.runs / 4));
  const berth = median(await commitTimes(ctx.berth.api, runs, 1));
  const docker = ctx.docker ? median(await commitTimes(ctx.docker.api, runs, 1)) : undefined;
  return [{ benchmark: 'commit, 32 MB + 2,000 files, and rmi (API)', unit: 'ms', berth, docker }];
}
