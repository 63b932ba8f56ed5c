import { median, sample } from './lib/stats';
import type { BenchRow } from './lib/report';
import type { BenchContext } from './context';

const IMAGE = 'busybox';

/**
 * `run --rm busybox true` with no network, N timed runs after warm-ups.
 * "api": the docker CLI's API sequence (create with AutoRemove, attach, wait
 * condition=removed, start, read the wait result) from this process: the daemon's own cost.
 * "cli": the user-visible time of a CLI process (berth's node CLI, the docker CLI, podman).
 */
export async function benchRunRm(ctx: BenchContext): Promise<BenchRow[]> {
  const { berth, docker, podman, runs, warmups } = ctx;
  const apiRun = (api: typeof berth.api) => async () => {
    const code = await api.runRm(IMAGE, ['true']);
    if (code !== 0) throw new Error(`run --rm exited with ${code}`);
  };
  const cliArgs = ['run', '--rm', '--network', 'none', IMAGE, 'true'];
  const rows: BenchRow[] = [];

  const berthApi = median(await sample(runs, warmups, apiRun(berth.api)));
  const dockerApi = docker ? median(await sample(runs, warmups, apiRun(docker.api))) : undefined;
  rows.push({ benchmark: 'run --rm true (API)', unit: 'ms', berth: berthApi, docker: dockerApi, target: 80 });

  const berthCli = median(await sample(runs, warmups, () => berth.cli!(cliArgs)));
  const dockerCliOnBerth = ctx.dockerCliOnBerth ? median(await sample(runs, warmups, () => ctx.dockerCliOnBerth!(cliArgs))) : undefined;
  const dockerCli = docker ? median(await sample(runs, warmups, () => docker.cli!(cliArgs))) : undefined;
  const podmanCli = podman ? median(await sample(runs, warmups, () => podman.cli!(cliArgs))) : undefined;
  rows.push({ benchmark: 'run --rm true (berth CLI / docker CLI / podman)', unit: 'ms', berth: berthCli, docker: dockerCli, podman: podmanCli });
  if (dockerCliOnBerth !== undefined) {
    rows.push({ benchmark: 'run --rm true (docker CLI on both)', unit: 'ms', berth: dockerCliOnBerth, docker: dockerCli });
  }
  return rows;
}
