import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { EngineApi } from './engine-api';
import { findProcesses, mustRun, runCommand } from './proc';
import { privateDockerdSkipReason, startPrivateDockerd } from '../../test/helpers/private-dockerd';
import type { PrivateNetns } from '../../test/helpers/private-netns';
import { DOCKER_CLIENT_ENV, type BenchTarget } from './targets';

export const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd'].find((p) => existsSync(p));
export const DOCKER_CLIENT = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));

export interface DockerTarget extends BenchTarget {
  name: 'docker';
  socket: string;
  api: EngineApi;
  version: string;
  /** dockerd's network namespace (a registry for it must listen there). */
  netns: PrivateNetns;
}

/**
 * A private dockerd for comparison (test/helpers/private-dockerd.ts: its own network
 * namespace, roots, socket and pid file, no bridge, no iptables, its own containerd
 * namespaces), with `image` (a docker-save archive) loaded into it.
 */
export async function startDocker(image: Buffer): Promise<DockerTarget | undefined> {
  if (!DOCKERD || !DOCKER_CLIENT || privateDockerdSkipReason()) return undefined;
  // With its default bridge (inside its own namespace), as Docker is normally run: the
  // networking benchmarks compare bridge paths.
  const dockerd = await startPrivateDockerd({ bridge: true });
  const api = new EngineApi(dockerd.socket);
  const client = DOCKER_CLIENT;
  const underRoot = (cmd: string) => cmd.includes(`${dockerd.root}/`);
  const target: DockerTarget = {
    name: 'docker',
    socket: dockerd.socket,
    api,
    netns: dockerd.netns,
    version: '',
    async cli(args) {
      await mustRun(client, ['-H', dockerd.host, ...args], { env: DOCKER_CLIENT_ENV });
    },
    async daemonPids() {
      const pids = dockerd.pid === undefined ? [] : [dockerd.pid];
      // dockerd's managed containerd runs with --config under our exec root.
      return [...pids, ...(await findProcesses((cmd) => cmd.startsWith('containerd ') && underRoot(cmd)))];
    },
    monitorPids: () => findProcesses((cmd) => cmd.includes('containerd-shim') && cmd.includes(`-namespace ${dockerd.namespace} `)),
    async stop() {
      await api.removeAll().catch(() => undefined);
      api.close();
      await dockerd.stop();
    },
  };
  try {
    await loadImage(dockerd.socket, image);
    const version = await runCommand(client, ['-H', dockerd.host, 'version', '--format', '{{.Server.Version}}'], { env: DOCKER_CLIENT_ENV });
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
