import { spawn, ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { unmountUnder } from './processes';
import { createPrivateNetns, PrivateNetns } from './private-netns';

/** The repository root (dist/test/helpers → ../../..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const DAEMON_MAIN = path.join(REPO_ROOT, 'dist', 'src', 'daemon', 'main.js');
/** The berth command as users run it (a shell script choosing the pinned Node). */
export const CLI_MAIN = path.join(REPO_ROOT, 'bin', 'berth');

export interface TestDaemon {
  root: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  /** `unix://<socket>` for DOCKER_HOST / -H. */
  host: string;
  process: ChildProcess;
  /**
   * The network namespace the daemon runs in (its bridges, veths, routes and iptables rules
   * live there, never on the host's network); run a command in it, e.g. curl to a published
   * port, with `netns.command(file, args)`. Undefined for a `hostNetwork` daemon.
   */
  netns: PrivateNetns | undefined;
  logs(): Promise<string>;
  /** Stops the daemon (SIGTERM), then removes what its containers left. */
  stop(options?: { keepContainers?: boolean }): Promise<void>;
  /** SIGKILL, leaving state on disk (for restart tests). */
  crash(): Promise<void>;
  /** Starts a new daemon process on the same roots (stopping the old one first if it still runs). */
  restart(): Promise<void>;
}

export { isRoot, needsRoot } from './root';

export interface TestDaemonOptions {
  /** Runs before the first launch (e.g. to mount a small file system as the data root). */
  prepare?: (paths: { root: string; dataRoot: string; execRoot: string }) => Promise<void>;
  /** More berthd flags (a function: made from the temp root). */
  args?: string[] | ((paths: { root: string }) => string[]);
  /**
   * Runs the daemon on the host's network instead of a namespace of its own, for a test whose
   * daemon must reach a server the test process listens on (e.g. a registry on 127.0.0.1).
   * The daemon then gets `--bridge none` (no default bridge: the default network is a private
   * namespace with loopback only), so it still changes nothing on the host; such a test must
   * not create networks or use `--network bridge`.
   */
  hostNetwork?: boolean;
  /** More environment for berthd (e.g. http_proxy for the debootstrap it runs). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts berthd on a temp data root and socket; resolves once /_ping answers. The daemon runs
 * in a network namespace of its own (private-netns.ts) that lives until stop(), across
 * restart() and crash(), so nothing its containers do reaches the host's interfaces, routes
 * or firewall (scripts/run-tests.ts checks it), unless `hostNetwork` is given.
 */
export async function startTestDaemon(options: TestDaemonOptions = {}): Promise<TestDaemon> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bt-'));
  const dataRoot = path.join(root, 'data');
  const execRoot = path.join(root, 'x');
  await options.prepare?.({ root, dataRoot, execRoot });
  const socket = path.join(execRoot, 'berth.sock');
  const logFile = path.join(root, 'berthd.log');
  const extraArgs = [...(typeof options.args === 'function' ? options.args({ root }) : (options.args ?? [])), ...(options.hostNetwork ? ['--bridge', 'none'] : [])];
  const netns = options.hostNetwork
    ? undefined
    : await createPrivateNetns().catch(async (err: unknown) => {
        await fs.rm(root, { recursive: true, force: true });
        throw err;
      });
  const launch = async (): Promise<ChildProcess> => {
    const log = await fs.open(logFile, 'a');
    const argv = [DAEMON_MAIN, '--data-root', dataRoot, '--exec-root', execRoot, '--host', `unix://${socket}`, '--log-level', 'debug', ...extraArgs];
    // nsenter execs berthd (no fork), so the child's pid is the daemon's own.
    const command = netns ? netns.command(process.execPath, argv) : { file: process.execPath, args: argv };
    const child = spawn(command.file, command.args, {
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    // A daemon that did not answer in time is killed: left running it would later serve the
    // same roots beside the next one (its start-up sweep removing that one's namespaces).
    await waitForPing(socket, child, logFile).catch(async (err: unknown) => {
      await terminate(child, 'SIGKILL');
      throw err;
    });
    return child;
  };
  const daemon: TestDaemon = {
    root,
    dataRoot,
    execRoot,
    socket,
    host: `unix://${socket}`,
    process: await launch().catch(async (err: unknown) => {
      await netns?.close();
      throw err;
    }),
    netns,
    logs: () => fs.readFile(logFile, 'utf8'),
    async stop(options = {}) {
      // Bounded: a daemon bug that hangs a remove must fail that test, not hang the suite.
      if (!options.keepContainers) await withTimeout(removeAllContainers(socket), 30_000).catch(() => undefined);
      await terminate(daemon.process, 'SIGTERM');
      await netns?.close();
      await cleanupRoots(root);
    },
    async crash() {
      await terminate(daemon.process, 'SIGKILL');
    },
    async restart() {
      // Two daemons on one data root would fight over it: a live one is stopped first.
      await terminate(daemon.process, 'SIGTERM');
      daemon.process = await launch();
    },
  };
  return daemon;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Unmounts anything left under the test root and deletes it. */
async function cleanupRoots(root: string): Promise<void> {
  await unmountUnder(root);
  await fs.rm(root, { recursive: true, force: true });
}

export function apiRequest(socket: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: socket, method, path: urlPath, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function waitForPing(socket: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`berthd exited with ${child.exitCode}: ${await fs.readFile(logFile, 'utf8').catch(() => '')}`);
    }
    try {
      const res = await apiRequest(socket, 'GET', '/_ping');
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`berthd did not answer on ${socket}: ${await fs.readFile(logFile, 'utf8').catch(() => '')}`);
}

async function removeAllContainers(socket: string): Promise<void> {
  const res = await apiRequest(socket, 'GET', '/containers/json?all=1');
  for (const c of JSON.parse(res.body) as Array<{ Id: string }>) {
    await apiRequest(socket, 'DELETE', `/containers/${c.Id}?force=1`);
  }
}

/** Bootstraps the busybox image into the daemon (berth's own endpoint). */
export async function bootstrapBusybox(daemon: TestDaemon): Promise<void> {
  const res = await apiRequest(daemon.socket, 'POST', '/berth/images/bootstrap?name=busybox');
  if (res.status !== 200 || res.body.includes('"error"')) throw new Error(`bootstrap failed: ${res.status} ${res.body}`);
}
