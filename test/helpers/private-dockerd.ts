import { needsRoot } from './root';
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCommand } from './cli';
import { createPrivateNetns, PrivateNetns } from './private-netns';
import { killProcessesUnder, unmountUnder } from './processes';

/**
 * A dockerd of our own for tests and benchmarks, on temp roots and a temp socket, so interop
 * tests run where no system dockerd is running (CI installs docker.io but starts nothing).
 * It runs in a network namespace of its own (private-netns.ts): dockerd started with
 * `--bridge none` deletes `docker0`, and flags alone cannot keep it off the host's
 * interfaces, routes and firewall. Its own containerd namespaces keep it off a system
 * dockerd's containers.
 */
export interface PrivateDockerd {
  root: string;
  socket: string;
  /** dockerd's pid. */
  pid: number | undefined;
  /** The containerd namespace its containers run in. */
  namespace: string;
  /** `unix://<socket>` for -H / DOCKER_HOST. */
  host: string;
  /** Its network namespace (to reach a host loopback port from it: netns-forward.ts). */
  netns: PrivateNetns;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

export const DOCKERD_PATHS = ['/usr/bin/dockerd', '/usr/sbin/dockerd', '/usr/local/bin/dockerd'];

export function dockerdBinary(): string | undefined {
  return DOCKERD_PATHS.find((p) => existsSync(p));
}

/** Why a private dockerd cannot be started here, or undefined when it can. */
export function privateDockerdSkipReason(): string | undefined {
  const root = needsRoot('needs root to run dockerd');
  if (root) return root;
  if (!dockerdBinary()) return 'no dockerd binary installed';
  if (!['/usr/bin/docker', '/usr/local/bin/docker'].some((p) => existsSync(p))) return 'no docker CLI installed';
  return undefined;
}

const CLIENT = ['/usr/bin/docker', '/usr/local/bin/docker'].find((p) => existsSync(p)) ?? 'docker';

export interface PrivateDockerdOptions {
  /**
   * Docker's default bridge (docker0), its iptables rules and docker-proxy, all inside the
   * dockerd's own network namespace: for side-by-side networking benchmarks. Off by default.
   */
  bridge?: boolean;
  /**
   * A folder seen as /etc/docker by this dockerd alone (a mount namespace of its own binds it
   * there), e.g. holding `certs.d/<host:port>/ca.crt`: dockerd reads registry CAs from that
   * fixed path, and the host's /etc/docker stays untouched.
   */
  etcDocker?: string;
}

export async function startPrivateDockerd(options: PrivateDockerdOptions = {}): Promise<PrivateDockerd> {
  const binary = dockerdBinary();
  if (!binary) throw new Error('no dockerd binary installed');
  // Short names: the socket path and containerd's own sockets under exec-root must stay under 108 bytes.
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'pd-'));
  const socket = path.join(root, 'docker.sock');
  const logFile = path.join(root, 'dockerd.log');
  const tag = path.basename(root);
  const netns = await createPrivateNetns().catch(async (err: unknown) => {
    await fs.rm(root, { recursive: true, force: true });
    throw err;
  });
  const log = await fs.open(logFile, 'a');
  const command = netns.command(binary, [
    '--data-root', path.join(root, 'data'),
    '--exec-root', path.join(root, 'x'),
    '--pidfile', path.join(root, 'dockerd.pid'),
    '--host', `unix://${socket}`,
    // No bridge and no iptables even inside its namespace, unless asked for.
    ...(options.bridge ? [] : ['--bridge', 'none', '--iptables=false', '--ip-masq=false']),
    '--containerd-namespace', `berth-test-${tag}`,
    '--containerd-plugins-namespace', `berth-test-${tag}-plugins`,
    '--storage-driver', 'overlay2',
  ]);
  // unshare and sh exec: the child's pid stays dockerd's own.
  const launch = options.etcDocker
    ? { file: 'unshare', args: ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /etc/docker && exec "$@"', options.etcDocker, command.file, ...command.args] }
    : command;
  const child = spawn(launch.file, launch.args, {
    stdio: ['ignore', log.fd, log.fd],
    env: { ...process.env, DOCKER_CONFIG: '/nonexistent-docker-config' },
  });
  await log.close();
  const dockerd: PrivateDockerd = {
    root,
    socket,
    pid: child.pid,
    namespace: `berth-test-${tag}`,
    host: `unix://${socket}`,
    netns,
    logs: () => fs.readFile(logFile, 'utf8'),
    stop: () => stopDockerd(child, root, netns),
  };
  try {
    await waitForVersion(dockerd, child);
  } catch (err: unknown) {
    await dockerd.stop();
    throw err;
  }
  return dockerd;
}

async function waitForVersion(dockerd: PrivateDockerd, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}: ${await dockerd.logs().catch(() => '')}`);
    const r = await runCommand(CLIENT, ['-H', dockerd.host, 'version', '--format', '{{.Server.Version}}'], {
      env: { DOCKER_CONFIG: '/nonexistent-docker-config' },
      timeoutMs: 10_000,
    });
    if (r.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`dockerd did not answer on ${dockerd.socket}: ${await dockerd.logs().catch(() => '')}`);
}

async function stopDockerd(child: ChildProcess, root: string, netns: PrivateNetns): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    // dockerd waits for its containerd and containers; give it time, then force.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
  // A SIGKILLed dockerd leaves its containerd (and shims) behind.
  await killProcessesUnder(root);
  await netns.close();
  await unmountUnder(root);
  await fs.rm(root, { recursive: true, force: true });
}
