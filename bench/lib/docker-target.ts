import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineApi } from './engine-api';
import { waitUntil } from './berth-target';
import { findProcesses, mustRun, runCommand, unmountUnder } from './proc';
import { DOCKER_CLIENT_ENV, type BenchTarget } from './targets';

export const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd'].find((p) => existsSync(p));
export const DOCKER_CLIENT = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));

export interface DockerTarget extends BenchTarget {
  name: 'docker';
  socket: string;
  api: EngineApi;
  version: string;
}

/**
 * A private dockerd for comparison: its own roots, socket and pid file, no bridge and no
 * iptables, its own containerd namespaces, so it never touches the host's networking or
 * a system dockerd's containers. `image` (a docker-save archive) is loaded into it.
 */
export async function startDocker(image: Buffer): Promise<DockerTarget | undefined> {
  if (!DOCKERD || !DOCKER_CLIENT) return undefined;
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bd-'));
  const socket = path.join(root, 'docker.sock');
  const logFile = path.join(root, 'dockerd.log');
  const log = await fs.open(logFile, 'a');
  const child = spawn(
    DOCKERD,
    [
      '--data-root', path.join(root, 'data'),
      '--exec-root', path.join(root, 'x'),
      '--pidfile', path.join(root, 'dockerd.pid'),
      '--host', `unix://${socket}`,
      '--bridge', 'none',
      '--iptables=false',
      '--ip-masq=false',
      '--containerd-namespace', 'b',
      '--containerd-plugins-namespace', 'bp',
      '--storage-driver', 'overlay2',
    ],
    { stdio: ['ignore', log.fd, log.fd], env: { ...process.env, ...DOCKER_CLIENT_ENV } },
  );
  await log.close();
  const api = new EngineApi(socket);
  const client = DOCKER_CLIENT;
  const underRoot = (cmd: string) => cmd.includes(`${root}/`);
  const target: DockerTarget = {
    name: 'docker',
    socket,
    api,
    version: '',
    async cli(args) {
      await mustRun(client, ['-H', `unix://${socket}`, ...args], { env: DOCKER_CLIENT_ENV });
    },
    async daemonPids() {
      const pids = child.pid === undefined ? [] : [child.pid];
      // dockerd's managed containerd runs with --config under our exec root.
      return [...pids, ...(await findProcesses((cmd) => cmd.startsWith('containerd ') && underRoot(cmd)))];
    },
    monitorPids: () => findProcesses((cmd) => cmd.includes('containerd-shim') && cmd.includes('-namespace b ')),
    async stop() {
      await api.removeAll().catch(() => undefined);
      api.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      // A dockerd killed hard leaves its containerd behind: end what runs under our roots.
      for (const pid of await findProcesses(underRoot)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await unmountUnder(root);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(async () => (await api.request('GET', '/_ping')).status === 200, child, () => fs.readFile(logFile, 'utf8'));
    await loadImage(socket, image);
    const version = await runCommand(client, ['-H', `unix://${socket}`, 'version', '--format', '{{.Server.Version}}'], { env: DOCKER_CLIENT_ENV });
    target.version = version.stdout.toString().trim();
  } catch (err: unknown) {
    await target.stop();
    throw err;
  }
  return target;
}

/** POST /images/load with the archive as body (what `docker load` does). */
function loadImage(socket: string, archive: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: socket, method: 'POST', path: '/v1.41/images/load?quiet=1', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': archive.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200 || body.includes('"error"')) reject(new Error(`docker load failed: ${res.statusCode} ${body}`));
          else resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(archive);
  });
}
