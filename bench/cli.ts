import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INSTALLED_CLI } from './lib/berth-target';
import { DOCKER_CLIENT } from './lib/docker-target';
import { mustRun } from './lib/proc';
import type { BenchRow } from './lib/report';
import { median, nowMs } from './lib/stats';
import { DOCKER_CLIENT_ENV } from './lib/targets';
import type { BenchContext } from './context';

/** A process to time: what a user types, run to its exit. */
interface Command {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/** One way to run a command: the berth CLI on berthd, the docker CLI on either daemon, podman, bare runc. */
interface Column {
  name: string;
  command(scenario: Scenario): Command | undefined;
}

type Scenario = 'version' | 'ps' | 'run';

const SCENARIOS: Array<{ scenario: Scenario; label: string; args: string[] }> = [
  { scenario: 'version', label: 'version', args: ['version'] },
  { scenario: 'ps', label: `ps (${20} running)`, args: ['ps'] },
  { scenario: 'run', label: 'run --rm --network none busybox true', args: ['run', '--rm', '--network', 'none', 'busybox', 'true'] },
];
const PS_CONTAINERS = 20;
const BERTH_CLI = 'berth CLI → berthd';
const RUNC = '/usr/sbin/runc';

/**
 * The CLI as users meet it: each command is a new process, start-up included. The berth CLI
 * twice: as installed (its launcher hands commands to warm spares, src/cli/spare) and with
 * BERTH_NO_SPARE=1 (a fresh Node per command). Runs are
 * interleaved across the columns (one run of each in turn, like hyperfine with several
 * commands) so that load on the machine hits every column alike; medians are printed with
 * the berth CLI's overhead over the docker CLI against the same berthd. Prints its own
 * table and adds nothing to the main one.
 */
export async function benchCli(ctx: BenchContext): Promise<BenchRow[]> {
  const { berth, docker, podman } = ctx;
  const berthHost = `unix://${berth.socket}`;
  const bundle = await makeRuncBundle(berth);
  let runcId = 0;
  // The berth CLI's warm processes (src/cli/spare) on a socket of this run's own; removing
  // it with the bundle's folder ends them.
  const spareSocket = path.join(bundle.root, 'cli', 'cli.sock');
  const berthEnv = { BERTH_CLI_SOCKET: spareSocket };
  const columns: Column[] = [
    { name: BERTH_CLI, command: (s) => ({ file: INSTALLED_CLI, args: ['-H', berthHost, ...argsOf(s)], env: berthEnv }) },
    { name: 'berth CLI, plain Node', command: (s) => ({ file: INSTALLED_CLI, args: ['-H', berthHost, ...argsOf(s)], env: { ...berthEnv, BERTH_NO_SPARE: '1' } }) },
    ...(DOCKER_CLIENT ? [{ name: 'docker CLI → berthd', command: (s: Scenario) => ({ file: DOCKER_CLIENT!, args: ['-H', berthHost, ...argsOf(s)], env: DOCKER_CLIENT_ENV }) }] : []),
    ...(docker && DOCKER_CLIENT ? [{ name: 'docker CLI → dockerd', command: (s: Scenario) => ({ file: DOCKER_CLIENT!, args: ['-H', `unix://${docker.socket}`, ...argsOf(s)], env: DOCKER_CLIENT_ENV }) }] : []),
    ...(podman ? [{ name: 'podman', command: (s: Scenario) => podman.command(argsOf(s)) }] : []),
    {
      name: 'bare runc',
      command: (s) => (s === 'run' ? { file: RUNC, args: ['--root', bundle.state, 'run', '--bundle', bundle.dir, `bench-${process.pid}-${runcId++}`] } : undefined),
    },
  ];
  const medians = new Map<string, number>();
  try {
    await startSpares(berthHost, berthEnv, spareSocket);
    for (const { scenario, label } of SCENARIOS) {
      process.stderr.write(`  cli: ${label}\n`);
      if (scenario === 'ps') await startSleepers(ctx);
      try {
        const active = columns.filter((c) => c.command(scenario) !== undefined);
        const times = new Map<string, number[]>(active.map((c) => [c.name, []]));
        for (let i = 0; i < ctx.warmups + ctx.runs; i++) {
          for (const column of active) {
            const elapsed = await timeProcess(column.command(scenario)!);
            if (i >= ctx.warmups) times.get(column.name)!.push(elapsed);
            // The spare that ran it starts and warms up its successor (~0.3 s of CPU): not
            // while the next column is timed, on this 2-core machine (it made runc slower).
            if (column.name === BERTH_CLI) await sparesSettled(spareSocket);
          }
        }
        for (const [name, values] of times) medians.set(`${scenario}/${name}`, median(values));
      } finally {
        if (scenario === 'ps') await removeSleepers(ctx);
      }
    }
  } finally {
    await fs.rm(bundle.root, { recursive: true, force: true });
  }
  console.log(formatCliTable(columns.map((c) => c.name), medians));
  console.log('');
  return [];
}

/** The pids of the berth CLI's spares on `socket` (their command line names it). */
async function sparePids(socket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (argv.includes('spare.js') && argv.split('\0').includes(socket)) pids.push(Number(entry));
  }
  return pids;
}

/** CPU ticks (user + system) of `pid`, 0 once it is gone. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

/** Waits (up to 5 s) until the spares on `socket` have used no CPU for 100 ms: their start-up and warm-up are over. */
async function sparesSettled(socket: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  let last = '';
  while (Date.now() < deadline) {
    const pids = await sparePids(socket);
    const now = (await Promise.all(pids.map(async (pid) => `${pid}:${await cpuTicks(pid)}`))).join(' ');
    if (now === last) return;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The first berth command runs on plain Node and starts the spares; wait until they listen. */
async function startSpares(host: string, env: NodeJS.ProcessEnv, socket: string): Promise<void> {
  await timeProcess({ file: INSTALLED_CLI, args: ['-H', host, 'version'], env });
  const deadline = Date.now() + 30_000;
  while (!(await fs.stat(socket).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`the berth CLI's spares did not start (${socket})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // both spares of the pool loaded and warmed up
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await sparesSettled(socket);
}

function argsOf(scenario: Scenario): string[] {
  return SCENARIOS.find((s) => s.scenario === scenario)!.args;
}

function formatCliTable(columns: string[], medians: Map<string, number>): string {
  const header = ['CLI, median ms', ...columns, 'berth CLI overhead', 'berth CLI / runc'];
  const cell = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1));
  const lines = SCENARIOS.map(({ scenario, label }) => {
    const get = (column: string) => medians.get(`${scenario}/${column}`);
    const berthCli = get(BERTH_CLI);
    const dockerCli = get('docker CLI → berthd');
    const runc = get('bare runc');
    return [
      label,
      ...columns.map((c) => cell(get(c))),
      berthCli !== undefined && dockerCli !== undefined ? `${(berthCli - dockerCli).toFixed(1)} ms` : '-',
      berthCli !== undefined && runc !== undefined ? `${(berthCli / runc).toFixed(1)}×` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}

/** Wall time of one process from spawn to exit; a failure is an error, not a fast sample. */
function timeProcess(command: Command): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = nowMs();
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...command.env } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = nowMs() - start;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`${command.file} ${command.args.join(' ')}: exited with ${code}: ${stderr.trim()}`));
    });
  });
}

async function startSleepers(ctx: BenchContext): Promise<void> {
  for (let i = 0; i < PS_CONTAINERS; i++) {
    await ctx.berth.api.runDetached('busybox', ['sleep', '1000']);
    if (ctx.docker) await ctx.docker.api.runDetached('busybox', ['sleep', '1000']);
    if (ctx.podman) await ctx.podman.cli!(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']);
  }
}

async function removeSleepers(ctx: BenchContext): Promise<void> {
  await ctx.berth.api.removeAll();
  if (ctx.docker) await ctx.docker.api.removeAll();
  if (ctx.podman) await ctx.podman.cli!(['rm', '-af', '-t', '0']);
}

/**
 * An OCI bundle of the same busybox (exported from a berth container) with `runc spec`'s
 * defaults (its own namespaces, network included) running `true`: the floor for `run`.
 */
async function makeRuncBundle(berth: BenchContext['berth']): Promise<{ root: string; dir: string; state: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bcli-'));
  const dir = path.join(root, 'bundle');
  const state = path.join(root, 'state');
  await fs.mkdir(path.join(dir, 'rootfs'), { recursive: true });
  try {
    const created = JSON.parse(await berth.api.mustRequest('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] })) as { Id: string };
    const archive = path.join(root, 'rootfs.tar');
    await berth.cli!(['export', '-o', archive, created.Id]);
    await berth.api.mustRequest('DELETE', `/containers/${created.Id}?force=1`);
    await mustRun('tar', ['-x', '-f', archive, '-C', path.join(dir, 'rootfs')]);
    await fs.rm(archive);
    await mustRun(RUNC, ['spec', '--bundle', dir]);
    const spec = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean } };
    spec.process.args = ['true'];
    spec.process.terminal = false;
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
  } catch (err: unknown) {
    await fs.rm(root, { recursive: true, force: true });
    throw err;
  }
  return { root, dir, state };
}
