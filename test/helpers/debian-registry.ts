import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from './wait';

/** Debian's docker-registry (distribution 2.8), the reference registry tests run against. */
export const DEBIAN_REGISTRY = '/usr/bin/docker-registry';
export const haveDebianRegistry = (): boolean => existsSync(DEBIAN_REGISTRY);

export interface DebianRegistryOptions {
  /** Basic auth from an htpasswd file with these users (bcrypt hashes made by python's crypt). */
  htpasswd?: Record<string, string>;
  /** Docker token auth: the registry trusts tokens signed by `certPem`'s key, issued by `issuer` for `service`. */
  token?: { realm: string; service: string; issuer: string; certPem: string };
}

export interface DebianRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  url: string;
  root: string;
  stop(): Promise<void>;
  /** What the registry logged, for a failing test's message. */
  log(): string;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A bcrypt hash (cost 4: tests need speed, not strength) for an htpasswd line. */
export function bcryptHash(password: string): string {
  const script = 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))';
  const out = spawnSync('/usr/bin/python3', ['-W', 'ignore', '-c', script, password], { encoding: 'utf8' });
  if (out.status !== 0 || !out.stdout.startsWith('$2')) throw new Error(`bcrypt via python3 failed: ${out.stderr}`);
  return out.stdout.trim();
}

/** Starts docker-registry on 127.0.0.1:<free port> with its own root and config in a temp folder. */
export async function startDebianRegistry(opts: DebianRegistryOptions = {}): Promise<DebianRegistry> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-dreg-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let auth = '';
  if (opts.htpasswd !== undefined) {
    const lines = Object.entries(opts.htpasswd).map(([user, pass]) => `${user}:${bcryptHash(pass)}`);
    await fs.writeFile(path.join(root, 'htpasswd'), lines.join('\n') + '\n');
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(root, 'htpasswd')}\n`;
  } else if (opts.token !== undefined) {
    await fs.writeFile(path.join(root, 'token-ca.pem'), opts.token.certPem);
    auth =
      `auth:\n  token:\n    realm: ${opts.token.realm}\n    service: ${opts.token.service}\n` +
      `    issuer: ${opts.token.issuer}\n    rootcertbundle: ${path.join(root, 'token-ca.pem')}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(root, 'data')}\n` +
    `  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${auth}`;
  await fs.writeFile(path.join(root, 'config.yml'), config);
  const child: ChildProcess = spawn(DEBIAN_REGISTRY, ['serve', path.join(root, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logText = '';
  child.stdout!.on('data', (d: Buffer) => (logText += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (logText += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const up = () =>
    new Promise<boolean>((resolve) => {
      const req = http.get(`http://${host}/v2/`, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
    });
  try {
    await waitFor(async () => child.exitCode === null && (await up()), 15_000, `docker-registry on ${host}`);
  } catch (err) {
    child.kill('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${logText}`);
  }
  return {
    host,
    url: `http://${host}`,
    root,
    log: () => logText,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
