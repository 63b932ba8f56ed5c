import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { invalidArgument } from '../../errors';
import type { Logger } from '../../util/logger';
import { AccessRules } from './auth/access-rules';
import { Htpasswd } from './auth/htpasswd';
import { RegistryAuthorizer } from './auth/registry-auth';
import { TokenService } from './auth/token-service';
import { WebhookNotifier, type WebhookConfig } from './webhooks/notifier';
import { WEBHOOK_TEMPLATES } from './webhooks/templates';
import type { S3DriverOptions } from './storage/s3-driver';

/**
 * Settings of `berth registry serve`: every flag, also settable in a YAML or JSON file given
 * with `--config FILE`. Paths in the file are relative to the file's folder.
 *
 * ```yaml
 * addr: 127.0.0.1:5000
 * root: /srv/registry
 * htpasswd: htpasswd            # users (bcrypt); turns auth on
 * access: access.yaml           # per-repository rules (see auth/access-rules.ts)
 * tls:                          # optional: serve HTTPS (both files, PEM)
 *   certificate: registry.crt   # certificate chain
 *   key: registry.key           # its private key
 * auth:                         # optional
 *   mode: token                 # token (default) or basic
 *   token:
 *     service: berth-registry   # default
 *     issuer: berth-registry    # default
 *     realm: http://127.0.0.1:5000/token   # default: http://<Host header>/token
 *     expiresIn: 300            # seconds
 *     key: token-key.pem        # EC P-256 PEM; default: <root>/token-key.pem, made on first start
 * storage:                       # optional: blobs and metadata in an S3-compatible store
 *   s3:                         # (distribution's key names); default: files under root
 *     bucket: registry          # required; created when missing
 *     regionendpoint: http://127.0.0.1:9000   # default: AWS
 *     region: us-east-1         # default
 *     rootdirectory: /berth     # key prefix in the bucket
 *     accesskey: KEY            # both, or neither: then the AWS SDK's environment and profiles
 *     secretkey: SECRET
 *     forcepathstyle: true      # default: true with regionendpoint
 * webhooks:
 *   - http://127.0.0.1:9000/hook          # a URL alone: the JSON template
 *   - url: http://127.0.0.1:9001/slack
 *     template: slack                     # json (default) or slack
 *     name: team-chat                     # shown in logs instead of the URL
 *     actions: [push]                     # default: push and delete
 *     headers: { Authorization: "Bearer x" }
 *     maxAttempts: 5
 *     backoffMs: 1000
 *     maxBackoffMs: 60000
 *     timeoutMs: 10000
 * ```
 *
 * A flag given on the command line wins over the file's setting; `--webhook` flags add to
 * the file's webhooks.
 */
export interface ServeConfig {
  addr?: string;
  root?: string;
  htpasswd?: string;
  access?: string;
  /** HTTPS with this certificate (chain) and key, PEM files; plain HTTP without. */
  tls?: { certificate: string; key: string };
  auth: {
    mode?: 'token' | 'basic';
    token: { service: string; issuer: string; realm?: string; expiresIn: number; key?: string };
  };
  webhooks: WebhookConfig[];
  /** Storage in an S3-compatible object store instead of files under root. */
  storage?: { s3: S3DriverOptions };
}

/** The flags of `berth registry serve` this module merges with the file. */
export interface ServeFlags {
  addr?: string;
  root?: string;
  htpasswd?: string;
  access?: string;
  tlsCert?: string;
  tlsKey?: string;
  webhook?: string[];
}

const TOP_KEYS = ['addr', 'root', 'htpasswd', 'access', 'tls', 'auth', 'webhooks', 'storage'];
const S3_KEYS = ['bucket', 'regionendpoint', 'region', 'rootdirectory', 'accesskey', 'secretkey', 'forcepathstyle'];
const WEBHOOK_KEYS = ['url', 'name', 'template', 'headers', 'actions', 'maxAttempts', 'backoffMs', 'maxBackoffMs', 'timeoutMs'];

export function defaultServeConfig(): ServeConfig {
  return { auth: { token: { service: 'berth-registry', issuer: 'berth-registry', expiresIn: 300 } }, webhooks: [] };
}

/** Reads and checks a config file; every mistake names the file and the key. */
export async function loadServeConfigFile(file: string): Promise<ServeConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw invalidArgument(`cannot read registry config file ${file}: ${(err as Error).message}`, err);
  }
  return parseServeConfig(text, file, path.dirname(path.resolve(file)));
}

export function parseServeConfig(text: string, source: string, baseDir: string): ServeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalidArgument(`${source}: not valid YAML or JSON: ${(err as Error).message}`, err);
  }
  const config = defaultServeConfig();
  if (doc === null || doc === undefined) return config;
  const top = object(doc, source);
  unknownKeys(top, TOP_KEYS, source);
  const file = (key: string) => {
    const value = optionalString(top[key], `${source}: ${key}`);
    return value === undefined ? undefined : path.resolve(baseDir, value);
  };
  config.addr = optionalString(top.addr, `${source}: addr`);
  config.root = file('root');
  config.htpasswd = file('htpasswd');
  config.access = file('access');
  if (top.tls !== undefined) {
    const where = `${source}: tls`;
    const tls = object(top.tls, where);
    unknownKeys(tls, ['certificate', 'key'], where);
    const certificate = optionalString(tls.certificate, `${where}.certificate`);
    const key = optionalString(tls.key, `${where}.key`);
    if (certificate === undefined || key === undefined) throw invalidArgument(`${where}: both "certificate" and "key" are required`);
    config.tls = { certificate: path.resolve(baseDir, certificate), key: path.resolve(baseDir, key) };
  }
  if (top.auth !== undefined) {
    const auth = object(top.auth, `${source}: auth`);
    unknownKeys(auth, ['mode', 'token'], `${source}: auth`);
    if (auth.mode !== undefined) {
      if (auth.mode !== 'token' && auth.mode !== 'basic') throw invalidArgument(`${source}: auth.mode must be "token" or "basic", not ${JSON.stringify(auth.mode)}`);
      config.auth.mode = auth.mode;
    }
    if (auth.token !== undefined) {
      const where = `${source}: auth.token`;
      const token = object(auth.token, where);
      unknownKeys(token, ['service', 'issuer', 'realm', 'expiresIn', 'key'], where);
      const t = config.auth.token;
      t.service = optionalString(token.service, `${where}.service`) ?? t.service;
      t.issuer = optionalString(token.issuer, `${where}.issuer`) ?? t.issuer;
      t.realm = optionalString(token.realm, `${where}.realm`);
      if (t.realm !== undefined) checkHttpUrl(t.realm, `${where}.realm`);
      t.expiresIn = positiveInt(token.expiresIn, `${where}.expiresIn`) ?? t.expiresIn;
      const key = optionalString(token.key, `${where}.key`);
      t.key = key === undefined ? undefined : path.resolve(baseDir, key);
    }
  }
  if (top.storage !== undefined) {
    const where = `${source}: storage`;
    const storage = object(top.storage, where);
    unknownKeys(storage, ['s3'], where);
    if (storage.s3 !== undefined) config.storage = { s3: parseS3(storage.s3, `${where}.s3`) };
  }
  if (top.webhooks !== undefined) {
    if (!Array.isArray(top.webhooks)) throw invalidArgument(`${source}: webhooks must be a list`);
    config.webhooks = top.webhooks.map((raw, i) => parseWebhook(raw, `${source}: webhooks[${i}]`));
  }
  return config;
}

/** The file's settings with the command line's: a flag wins, `--webhook` adds. Relative flag paths resolve against the working folder. */
export function mergeServeFlags(config: ServeConfig, flags: ServeFlags): ServeConfig {
  const merged: ServeConfig = { ...config, auth: config.auth, webhooks: [...config.webhooks] };
  if (flags.addr !== undefined) merged.addr = flags.addr;
  for (const key of ['root', 'htpasswd', 'access'] as const) {
    const value = flags[key];
    if (value !== undefined) merged[key] = path.resolve(value);
  }
  for (const url of flags.webhook ?? []) merged.webhooks.push(parseWebhook(url, `--webhook ${url}`));
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    const certificate = flags.tlsCert ?? merged.tls?.certificate;
    const key = flags.tlsKey ?? merged.tls?.key;
    if (certificate === undefined) throw invalidArgument('--tls-key needs --tls-cert (or tls.certificate in the config file)');
    if (key === undefined) throw invalidArgument('--tls-cert needs --tls-key (or tls.key in the config file)');
    merged.tls = { certificate: path.resolve(certificate), key: path.resolve(key) };
  }
  return merged;
}

/** What `serve` plugs into the server's hooks, built from the settings. */
export interface ServeHooks {
  auth?: RegistryAuthorizer;
  events?: WebhookNotifier;
  /**
   * Re-reads the htpasswd and access files (serve does on SIGHUP). A file that no longer
   * reads or parses fails the reload and the ones in use stay.
   */
  reload(): Promise<void>;
}

export async function buildServeHooks(config: ServeConfig, logger: Logger): Promise<ServeHooks> {
  const load = async () => ({
    htpasswd: config.htpasswd ? await Htpasswd.load(config.htpasswd) : undefined,
    access: config.access ? await AccessRules.load(config.access) : undefined,
  });
  const { htpasswd, access } = await load();
  const hooks: ServeHooks = {
    reload: async () => {
      const fresh = await load();
      hooks.auth?.replaceUsersAndRules(fresh.htpasswd, fresh.access);
    },
  };
  if (htpasswd || access) {
    const mode = config.auth.mode ?? 'token';
    const t = config.auth.token;
    // Without a configured key, one kept in the storage root: refresh tokens survive a restart.
    const keyFile = t.key ?? (config.root ? path.join(path.resolve(config.root), 'token-key.pem') : undefined);
    const tokens = mode === 'token'
      ? await TokenService.create({ service: t.service, issuer: t.issuer, expiresIn: t.expiresIn, keyFile, createKey: t.key === undefined })
      : undefined;
    hooks.auth = new RegistryAuthorizer({ mode, htpasswd, access, tokens, realm: t.realm, logger });
  }
  if (config.webhooks.length > 0) {
    // The queues live in the storage root: what a restart interrupts is delivered after it.
    const spoolDir = config.root ? path.join(path.resolve(config.root), 'webhook-queue') : undefined;
    hooks.events = new WebhookNotifier(config.webhooks, logger, undefined, { spoolDir });
    await hooks.events.restore();
  }
  return hooks;
}

function parseS3(raw: unknown, where: string): S3DriverOptions {
  const s3 = object(raw, where);
  unknownKeys(s3, S3_KEYS, where);
  const bucket = optionalString(s3.bucket, `${where}.bucket`);
  if (bucket === undefined) throw invalidArgument(`${where}: "bucket" is required`);
  const out: S3DriverOptions = { bucket };
  const endpoint = optionalString(s3.regionendpoint, `${where}.regionendpoint`);
  if (endpoint !== undefined) {
    checkHttpUrl(endpoint, `${where}.regionendpoint`);
    out.endpoint = endpoint;
  }
  const region = optionalString(s3.region, `${where}.region`);
  if (region !== undefined) out.region = region;
  const prefix = optionalString(s3.rootdirectory, `${where}.rootdirectory`);
  if (prefix !== undefined) out.prefix = prefix.replace(/^\/+/, '');
  const accessKeyId = optionalString(s3.accesskey, `${where}.accesskey`);
  const secretAccessKey = optionalString(s3.secretkey, `${where}.secretkey`);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw invalidArgument(`${where}: "accesskey" and "secretkey" go together`);
  if (accessKeyId !== undefined) Object.assign(out, { accessKeyId, secretAccessKey });
  if (s3.forcepathstyle !== undefined) {
    if (typeof s3.forcepathstyle !== 'boolean') throw invalidArgument(`${where}.forcepathstyle must be true or false`);
    out.forcePathStyle = s3.forcepathstyle;
  }
  return out;
}

function parseWebhook(raw: unknown, where: string): WebhookConfig {
  if (typeof raw === 'string') {
    checkHttpUrl(raw, where);
    return { url: raw };
  }
  const w = object(raw, where);
  unknownKeys(w, WEBHOOK_KEYS, where);
  const url = optionalString(w.url, `${where}.url`);
  if (url === undefined) throw invalidArgument(`${where}: "url" is required`);
  checkHttpUrl(url, `${where}.url`);
  const out: WebhookConfig = { url };
  const name = optionalString(w.name, `${where}.name`);
  if (name !== undefined) out.name = name;
  if (w.template !== undefined) {
    if (!(WEBHOOK_TEMPLATES as readonly unknown[]).includes(w.template)) {
      throw invalidArgument(`${where}.template must be one of ${WEBHOOK_TEMPLATES.join(', ')}, not ${JSON.stringify(w.template)}`);
    }
    out.template = w.template as WebhookConfig['template'];
  }
  if (w.headers !== undefined) {
    const headers = object(w.headers, `${where}.headers`);
    for (const [k, v] of Object.entries(headers)) if (typeof v !== 'string') throw invalidArgument(`${where}.headers.${k} must be a string`);
    out.headers = headers as Record<string, string>;
  }
  if (w.actions !== undefined) {
    if (!Array.isArray(w.actions) || w.actions.length === 0 || !w.actions.every((a) => a === 'push' || a === 'delete')) {
      throw invalidArgument(`${where}.actions must be a non-empty list of "push" and "delete"`);
    }
    out.actions = w.actions as Array<'push' | 'delete'>;
  }
  for (const key of ['maxAttempts', 'backoffMs', 'maxBackoffMs', 'timeoutMs'] as const) {
    const value = positiveInt(w[key], `${where}.${key}`);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function checkHttpUrl(value: string, where: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(`${where}: "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument(`${where}: "${value}" must be an http:// or https:// URL`);
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(`${where}: expected a mapping`);
  return value as Record<string, unknown>;
}

function unknownKeys(value: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalidArgument(`${where}: unknown key "${key}" (expected one of ${known.join(', ')})`);
  }
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidArgument(`${where} must be a non-empty string`);
  return value;
}

function positiveInt(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw invalidArgument(`${where} must be a positive whole number, not ${JSON.stringify(value)}`);
  return value;
}
