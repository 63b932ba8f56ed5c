import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_DOMAIN } from '../images/reference';
import type { AuthConfig } from '../registry/client/types';
import { writeFileAtomic } from '../util/atomic-fs';

/**
 * The docker CLI's config.json ($DOCKER_CONFIG or ~/.docker), so berth and docker share
 * logins: `auths.<server>.auth` is base64("user:password"), `identitytoken` an OAuth refresh
 * token; `credsStore`/`credHelpers` name docker-credential-* helpers, which are used when set.
 * Other keys are kept as they are when the file is rewritten.
 */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export function dockerConfigDir(): string {
  const fromEnv = process.env.DOCKER_CONFIG;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(os.homedir(), '.docker');
}

export function dockerConfigPath(): string {
  return path.join(dockerConfigDir(), 'config.json');
}

/** docker's credentials.ConvertToHostname: the host of an address, without scheme or path. */
export function convertToHostname(address: string): string {
  const stripped = address.replace(/^https?:\/\//, '');
  return stripped.split('/')[0] ?? stripped;
}

/** The key a login is stored under: Docker Hub's index URL, or host[:port]. */
export function serverKey(address: string | undefined): string {
  if (address === undefined || address === '' || address === DEFAULT_DOMAIN) return DOCKER_HUB_SERVER;
  const host = convertToHostname(address);
  if (host === 'index.docker.io' || host === 'docker.io' || host === 'registry-1.docker.io') return DOCKER_HUB_SERVER;
  return host;
}

/** The login key for an image's registry domain (docker.io → Docker Hub's index URL). */
export function serverKeyForDomain(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_SERVER : domain;
}

async function readConfig(): Promise<ConfigFile> {
  const file = dockerConfigPath();
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as ConfigFile;
  } catch (err) {
    throw new Error(`loading config file: ${file}: ${(err as Error).message}`);
  }
}

async function writeConfig(config: ConfigFile): Promise<void> {
  const dir = dockerConfigDir();
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(config, null, '\t') + '\n', 0o600);
}

function entryKey(config: ConfigFile, key: string): string | undefined {
  const auths = config.auths ?? {};
  if (auths[key] !== undefined) return key;
  const host = convertToHostname(key);
  return Object.keys(auths).find((k) => serverKey(k) === key || convertToHostname(k) === host);
}

function helperFor(config: ConfigFile, key: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  return helpers[key] ?? helpers[convertToHostname(key)] ?? (config.credsStore || undefined);
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin (docker's credential-helper protocol). */
function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => reject(new Error(`error getting credentials - err: ${err.message}, out: \`\``)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`error ${action === 'get' ? 'getting' : 'storing'} credentials - err: exit status ${code}, out: \`${out.trim()}\``))));
    child.stdin.end(input);
  });
}

/** Stored credentials for a login key (from a helper when one is configured), or undefined. */
export async function loadCredentials(key: string): Promise<AuthConfig | undefined> {
  const config = await readConfig();
  const helper = helperFor(config, key);
  if (helper !== undefined) {
    let out: string;
    try {
      out = await runHelper(helper, 'get', key);
    } catch (err) {
      if (/credentials not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
    const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
    if (!parsed.Username && !parsed.Secret) return undefined;
    return parsed.Username === '<token>' ? { identityToken: parsed.Secret, serverAddress: key } : { username: parsed.Username, password: parsed.Secret, serverAddress: key };
  }
  const k = entryKey(config, key);
  if (k === undefined) return undefined;
  const entry = config.auths![k]!;
  const out: AuthConfig = { serverAddress: key };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new Error(`invalid auth configuration file: ${dockerConfigPath()}: the auth of ${k} is not base64("user:password")`);
    out.username = decoded.slice(0, i);
    if (decoded.slice(i + 1) !== '') out.password = decoded.slice(i + 1);
  }
  if (entry.username) out.username = entry.username;
  if (entry.password) out.password = entry.password;
  if (entry.identitytoken) out.identityToken = entry.identitytoken;
  if (entry.registrytoken) out.registryToken = entry.registrytoken;
  return out;
}

/** Stores a login: the identity token instead of the password when the registry gave one. Returns where. */
export async function storeCredentials(key: string, auth: AuthConfig): Promise<string> {
  const config = await readConfig();
  const helper = helperFor(config, key);
  if (helper !== undefined) {
    const creds = auth.identityToken ? { ServerURL: key, Username: '<token>', Secret: auth.identityToken } : { ServerURL: key, Username: auth.username ?? '', Secret: auth.password ?? '' };
    await runHelper(helper, 'store', JSON.stringify(creds));
    return `docker-credential-${helper}`;
  }
  const entry: AuthEntry = auth.identityToken
    ? { auth: Buffer.from(`${auth.username ?? ''}:`).toString('base64'), identitytoken: auth.identityToken }
    : { auth: Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64') };
  const auths = { ...(config.auths ?? {}) };
  const existing = entryKey(config, key);
  if (existing !== undefined) delete auths[existing];
  auths[key] = entry;
  await writeConfig({ ...config, auths });
  return dockerConfigPath();
}

/** Removes a login; false when there was none. */
export async function eraseCredentials(key: string): Promise<boolean> {
  const config = await readConfig();
  const helper = helperFor(config, key);
  let found = false;
  if (helper !== undefined) {
    found = await runHelper(helper, 'erase', key).then(
      () => true,
      () => false,
    );
  }
  const existing = entryKey(config, key);
  if (existing !== undefined) {
    const auths = { ...(config.auths ?? {}) };
    delete auths[existing];
    await writeConfig({ ...config, auths });
    found = true;
  }
  return found;
}

/**
 * The X-Registry-Auth value the CLI sends with a pull or push of `image`: the stored login of
 * its registry, or empty credentials (docker sends those too) when there is none.
 */
export async function registryAuthForImage(image: string): Promise<string> {
  const { parseNormalizedNamed } = require('../images/reference') as typeof import('../images/reference');
  const { encodeRegistryAuth } = require('../registry/client/registry-auth-header') as typeof import('../registry/client/registry-auth-header');
  const key = serverKeyForDomain(parseNormalizedNamed(image).domain);
  const stored = await loadCredentials(key);
  return encodeRegistryAuth(stored ?? { serverAddress: key });
}
