import { promises as fs } from 'node:fs';

/**
 * What `berth registry serve` is configured with: its flags, each also settable in the file
 * given with `--config` (JSON; a flag given on the command line wins over the file).
 */
export interface ServeConfig {
  /** HOST:PORT to listen on. */
  addr: string;
  /** Storage root folder. */
  root: string;
  /** An htpasswd file (bcrypt) of the users who may log in. */
  htpasswd?: string;
  /** The access rules file: who may pull, push, delete which repositories. */
  access?: string;
  /** URLs that receive a JSON event on each push and delete. */
  webhooks: string[];
  /** The whole configuration file, for settings beyond the flags (webhook templates, token keys). */
  file?: Record<string, unknown>;
}

export const DEFAULT_ADDR = '127.0.0.1:5000';

/** Reads a `--config` file: a JSON object. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read registry config ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`registry config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`registry config ${file} must hold a JSON object`);
  return value as Record<string, unknown>;
}

function optionalString(file: Record<string, unknown>, key: string, source: string): string | undefined {
  const value = file[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new Error(`registry config ${source}: "${key}" must be a non-empty string`);
  return value;
}

/** Flags over the config file's values; checks what is required. */
export function mergeConfig(flags: { addr?: string; root?: string; htpasswd?: string; access?: string; webhooks: string[] }, file: Record<string, unknown> | undefined, source = '--config'): ServeConfig {
  const f = file ?? {};
  let fileWebhooks: string[] = [];
  if (f.webhooks !== undefined) {
    if (!Array.isArray(f.webhooks)) throw new Error(`registry config ${source}: "webhooks" must be a list`);
    fileWebhooks = f.webhooks.map((w) => (typeof w === 'string' ? w : typeof w === 'object' && w !== null && typeof (w as { url?: unknown }).url === 'string' ? (w as { url: string }).url : ''));
    if (fileWebhooks.includes('')) throw new Error(`registry config ${source}: each webhook is a URL or an object with a "url"`);
  }
  const config: ServeConfig = {
    addr: flags.addr ?? optionalString(f, 'addr', source) ?? DEFAULT_ADDR,
    root: flags.root ?? optionalString(f, 'root', source) ?? '',
    htpasswd: flags.htpasswd ?? optionalString(f, 'htpasswd', source),
    access: flags.access ?? optionalString(f, 'access', source),
    webhooks: flags.webhooks.length > 0 ? flags.webhooks : fileWebhooks,
    file,
  };
  if (config.root === '') throw new Error('a storage root is required: --root DIR (or "root" in the config file)');
  parseAddr(config.addr);
  for (const url of config.webhooks) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`invalid webhook URL ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`invalid webhook URL ${JSON.stringify(url)}: only http and https`);
  }
  return config;
}

/** HOST:PORT (IPv6 as [::1]:PORT). */
export function parseAddr(addr: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(addr)}: expected HOST:PORT`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
