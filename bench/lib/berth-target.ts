import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineApi } from './engine-api';
import { findProcesses, mustRun, unmountUnder } from './proc';
import { sleep } from './stats';
import type { BenchTarget } from './targets';
import { createPrivateNetns, type PrivateNetns } from '../../test/helpers/private-netns';

/** The repository root (dist/bench/lib → ../../..). */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** The daemon as users start it (bin/berthd picks the daemon's Node). */
const DAEMON = path.join(REPO_ROOT, 'bin', 'berthd');
/** The berth command as users run it (bin/berth picks the pinned Node). */
export const CLI_MAIN = path.join(REPO_ROOT, 'bin', 'berth');
/**
 * The berth command as scripts/install.sh puts it on PATH: the native launcher itself, with
 * no shell in front (bin/berth where it is not built). bin/berth's sh costs one more exec.
 */
export const INSTALLED_CLI = existsSync(path.join(REPO_ROOT, 'build', 'Release', 'berth-cli')) ? path.join(REPO_ROOT, 'build', 'Release', 'berth-cli') : CLI_MAIN;

export interface BerthTarget extends BenchTarget {
  name: 'berth';
  socket: string;
  root: string;
  process: ChildProcess;
  api: EngineApi;
  /** berthd's network namespace (a registry for it must listen there). */
  netns: PrivateNetns;
  /** The busybox image as a `docker save` archive, for loading into the other engines. */
  saveImage(image: string): Promise<Buffer>;
  /** Stops berthd and starts it again on the same roots (a fresh process: nothing kept in memory). */
  restart(): Promise<void>;
}

/**
 * Starts berthd on temp roots (log level info, as deployed) and bootstraps busybox into it.
 * It runs in a network namespace of its own, as the private dockerd and podman do here, so its
 * default bridge, veths and iptables rules never touch the host's network.
 */
export async function startBerth(): Promise<BerthTarget> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bb-'));
  const execRoot = path.join(root, 'x');
  const socket = path.join(execRoot, 'berth.sock');
  const netns = await createPrivateNetns();
  const daemonArgs = ['--data-root', path.join(root, 'data'), '--exec-root', execRoot, '--host', `unix://${socket}`, '--log-level', process.env.BERTH_BENCH_LOG_LEVEL ?? 'info'];
  // BERTH_BENCH_RUNTIME=runc (or a path): the runtime berthd runs instead of its default (crun when installed).
  if (process.env.BERTH_BENCH_RUNTIME) daemonArgs.push('--runtime-path', process.env.BERTH_BENCH_RUNTIME);
  // BERTH_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): berthd on this Node with those flags, to profile it.
  const nodeArgs = process.env.BERTH_BENCH_NODE_ARGS?.split(' ').filter(Boolean);
  const spawnDaemon = async (): Promise<ChildProcess> => {
    const log = await fs.open(path.join(root, 'berthd.log'), 'a');
    const command = nodeArgs
      ? netns.command(process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'dist', 'src', 'daemon', 'main.js'), ...daemonArgs])
      : netns.command(DAEMON, daemonArgs);
    const spawned = spawn(command.file, command.args, { stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    return spawned;
  };
  const stopDaemon = async (daemon: ChildProcess): Promise<void> => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  let child = await spawnDaemon();
  const api = new EngineApi(socket);
  const ready = (): Promise<void> =>
    waitUntil(async () => (await api.request('GET', '/_ping')).status === 200, child, () => fs.readFile(path.join(root, 'berthd.log'), 'utf8'));
  const target: BerthTarget = {
    name: 'berth',
    socket,
    root,
    get process() {
      return child;
    },
    api,
    netns,
    async cli(args) {
      await mustRun(CLI_MAIN, ['-H', `unix://${socket}`, ...args]);
    },
    async daemonPids() {
      return child.pid === undefined ? [] : [child.pid];
    },
    async restart() {
      await stopDaemon(child);
      child = await spawnDaemon();
      await ready();
    },
    monitorPids: () => findProcesses((cmd) => cmd.includes('berth-monitor') && cmd.includes(`${execRoot}/`)),
    saveImage(image) {
      return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        http
          .request({ socketPath: socket, method: 'GET', path: `/v1.41/images/get?names=${encodeURIComponent(image)}` }, (res) => {
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => ((res.statusCode ?? 0) === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`save ${image}: ${res.statusCode}`))));
          })
          .on('error', reject)
          .end();
      });
    },
    async stop() {
      await api.removeAll().catch(() => undefined);
      api.close();
      await stopDaemon(child);
      await netns.close();
      await unmountUnder(root);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  try {
    await ready();
    const res = await api.request('POST', '/berth/images/bootstrap?name=busybox');
    if (res.status !== 200 || res.body.includes('"error"')) throw new Error(`bootstrap busybox failed: ${res.status} ${res.body}`);
  } catch (err: unknown) {
    await target.stop();
    throw err;
  }
  return target;
}

/** Polls `ready` until it holds, failing early when the daemon exits. */
export async function waitUntil(ready: () => Promise<boolean>, child: ChildProcess, logs: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${await logs().catch(() => '')}`);
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`daemon did not answer: ${await logs().catch(() => '')}`);
}

