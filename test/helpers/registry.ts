import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { forwardIntoNetns, NetnsForward } from './netns-forward';
import type { PrivateNetns } from './private-netns';
import { CLI_MAIN } from './test-daemon';

/**
 * Registries for tests and benchmarks, each on 127.0.0.1:<free port> with its own temp
 * config and storage:
 *  - Debian's `docker-registry` (distribution 2.8), the reference peer;
 *  - `berth registry serve`, berth's own.
 * Optionally with users (htpasswd, bcrypt). `exposeIn(netns)` makes the same address work
 * inside a private network namespace (the private dockerd's, podman's), so an image name
 * like `127.0.0.1:<port>/app` means this registry for every client.
 */
export interface RegistryUser {
  username: string;
  password: string;
}

export interface TestRegistry {
  kind: 'distribution' | 'berth';
  /** `127.0.0.1:<port>`, the registry part of image names. */
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>` (https with TLS). */
  url: string;
  /** The temp folder holding config, storage and log. */
  root: string;
  /** The storage root the registry writes blobs and repositories to. */
  storage: string;
  users: RegistryUser[];
  pid: number | undefined;
  logs(): Promise<string>;
  /** Makes the registry answer at the same address inside `netns` (until stop). */
  exposeIn(netns: PrivateNetns): Promise<void>;
  stop(): Promise<void>;
}

export const DOCKER_REGISTRY = '/usr/bin/docker-registry';

/** Why Debian's docker-registry cannot run here, or undefined. */
export function distributionRegistrySkipReason(): string | undefined {
  if (!existsSync(DOCKER_REGISTRY)) return `Debian's docker-registry is not installed (${DOCKER_REGISTRY}; scripts/install-deps.sh installs it)`;
  return undefined;
}

let berthServeAvailable: boolean | undefined;

/** Why `berth registry serve` cannot run here (not built yet), or undefined. */
export function berthRegistrySkipReason(): string | undefined {
  if (berthServeAvailable === undefined) {
    const probe = spawnSync(CLI_MAIN, ['registry', 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
    berthServeAvailable = probe.status === 0 && /--addr/.test(probe.stdout + probe.stderr);
  }
  return berthServeAvailable ? undefined : '`berth registry serve` is not available in this build';
}

/** An htpasswd line with a bcrypt hash (what distribution and berth's registry read). */
export async function htpasswdLine(user: RegistryUser): Promise<string> {
  // Cost 5: the lowest bcryptjs makes, so logins in tests stay fast.
  return `${user.username}:${await bcrypt.hash(user.password, 5)}`;
}

async function writeHtpasswd(file: string, users: RegistryUser[]): Promise<void> {
  const lines = await Promise.all(users.map(htpasswdLine));
  await fs.writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
}

/** A port free on 127.0.0.1 right now (the registry binds it next; callers retry on a clash). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Launch {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/** docker-registry's environment: no OpenTelemetry exporter to reach for. */
export const DISTRIBUTION_ENV: NodeJS.ProcessEnv = { ...process.env, OTEL_TRACES_EXPORTER: 'none' };

/**
 * Writes `<dir>/config.yml` for docker-registry on `addr` with its storage in `storage`
 * (deletes allowed, no upload purging, no access log); `extra` is merged over it
 * (distribution's YAML keys). Returns the file.
 */
export async function writeDistributionConfig(dir: string, storage: string, addr: string, extra: Record<string, unknown> = {}): Promise<string> {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
    http: { addr, secret: randomBytes(16).toString('hex') },
    ...extra,
  };
  // JSON is YAML: distribution reads it as its config.yml.
  const file = path.join(dir, 'config.yml');
  await fs.writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/**
 * Starts Debian's docker-registry. `config` is merged over the generated configuration
 * (distribution's YAML keys), e.g. `{ notifications: … }`.
 */
export async function startDistributionRegistry(options: { users?: RegistryUser[]; config?: Record<string, unknown> } = {}): Promise<TestRegistry> {
  const skip = distributionRegistrySkipReason();
  if (skip) throw new Error(skip);
  const users = options.users ?? [];
  return startRegistry('distribution', 'dr-', users, 'http', async (root, storage, port) => {
    const htpasswd = path.join(root, 'htpasswd');
    if (users.length > 0) await writeHtpasswd(htpasswd, users);
    const file = await writeDistributionConfig(root, storage, `127.0.0.1:${port}`, {
      ...(users.length > 0 ? { auth: { htpasswd: { realm: 'berth-test', path: htpasswd } } } : {}),
      ...options.config,
    });
    return { file: DOCKER_REGISTRY, args: ['serve', file], env: DISTRIBUTION_ENV };
  });
}

/**
 * Starts `berth registry serve` (the CLI as users run it). `access` is written to a file and
 * passed as --access (a string as is, anything else as JSON); `args` adds flags; `tls` serves
 * HTTPS (--tls-cert/--tls-key), `https` says a --config file in `args` does.
 */
export async function startBerthRegistry(options: { users?: RegistryUser[]; access?: unknown; webhooks?: string[]; args?: string[]; tls?: { certificate: string; key: string }; https?: boolean } = {}): Promise<TestRegistry> {
  const skip = berthRegistrySkipReason();
  if (skip) throw new Error(skip);
  const users = options.users ?? [];
  return startRegistry('berth', 'br-', users, options.tls || options.https ? 'https' : 'http', async (root, storage, port) => {
    const args = ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', storage];
    if (options.tls) args.push('--tls-cert', options.tls.certificate, '--tls-key', options.tls.key);
    if (users.length > 0) {
      const htpasswd = path.join(root, 'htpasswd');
      await writeHtpasswd(htpasswd, users);
      args.push('--htpasswd', htpasswd);
    }
    if (options.access !== undefined) {
      const access = path.join(root, typeof options.access === 'string' ? 'access.yaml' : 'access.json');
      await fs.writeFile(access, typeof options.access === 'string' ? options.access : JSON.stringify(options.access, null, 2));
      args.push('--access', access);
    }
    for (const url of options.webhooks ?? []) args.push('--webhook', url);
    args.push(...(options.args ?? []));
    return { file: CLI_MAIN, args };
  });
}

async function startRegistry(
  kind: TestRegistry['kind'],
  prefix: string,
  users: RegistryUser[],
  scheme: 'http' | 'https',
  prepare: (root: string, storage: string, port: number) => Promise<Launch>,
): Promise<TestRegistry> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const storage = path.join(root, 'storage');
  await fs.mkdir(storage);
  const logFile = path.join(root, 'registry.log');
  let lastError: unknown;
  // The free port may be taken between our probe and the registry's bind: retry on another.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const launch = await prepare(root, storage, port);
    const log = await fs.open(logFile, 'a');
    const child = spawn(launch.file, launch.args, { stdio: ['ignore', log.fd, log.fd], env: launch.env ?? process.env });
    await log.close();
    const forwards: NetnsForward[] = [];
    const registry: TestRegistry = {
      kind,
      host: `127.0.0.1:${port}`,
      port,
      url: `${scheme}://127.0.0.1:${port}`,
      root,
      storage,
      users,
      pid: child.pid,
      logs: () => fs.readFile(logFile, 'utf8'),
      async exposeIn(netns) {
        forwards.push(await forwardIntoNetns(netns, port));
      },
      async stop() {
        for (const f of forwards.splice(0)) await f.close();
        await terminate(child);
        await fs.rm(root, { recursive: true, force: true });
      },
    };
    try {
      await waitUntilServing(registry, child);
      return registry;
    } catch (err: unknown) {
      lastError = err;
      await terminate(child);
      const logs = await registry.logs().catch(() => '');
      if (!/address already in use/i.test(logs)) break;
    }
  }
  await fs.rm(root, { recursive: true, force: true });
  throw lastError;
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the child has exited. */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until GET /v2/ answers (200, or 401 with users). */
async function waitUntilServing(registry: TestRegistry, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${registry.kind} registry exited (${child.exitCode ?? child.signalCode}): ${(await registry.logs().catch(() => '')).slice(-2000)}`);
    }
    const status = await getStatus(`${registry.url}/v2/`).catch(() => 0);
    if (status === 200 || status === 401) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${registry.kind} registry did not answer on ${registry.url}/v2/: ${(await registry.logs().catch(() => '')).slice(-2000)}`);
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // A test registry's certificate is its own: the wait only needs an answer.
    const get = url.startsWith('https:') ? (u: string, o: https.RequestOptions, cb: (res: http.IncomingMessage) => void) => https.get(u, { ...o, rejectUnauthorized: false }, cb) : http.get;
    const req = get(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The `skip` value for a test that needs this kind of registry: false when it can run. */
export function registrySkip(kind: TestRegistry['kind']): string | false {
  return (kind === 'distribution' ? distributionRegistrySkipReason() : berthRegistrySkipReason()) ?? false;
}
