import { invalidArgument, messageOf } from '../../errors';
import type { AuthConfig } from './types';

/**
 * The X-Registry-Auth header: base64url of a JSON AuthConfig, as the docker CLI sends it
 * with pull, push and `GET /distribution` (moby's registry.EncodeAuthConfig/DecodeAuthConfig).
 * Keys are read case-insensitively, as Go's encoding/json does.
 */
export function decodeRegistryAuth(header: string | undefined): AuthConfig {
  const text = header?.trim() ?? '';
  if (text === '') return {};
  let parsed: unknown;
  try {
    // Buffer's base64 decoder reads the URL and the standard alphabet, with or without padding.
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch (err) {
    throw invalidArgument(`invalid X-Registry-Auth header: ${messageOf(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidArgument('invalid X-Registry-Auth header: not a JSON object');
  return authConfigFromJson(parsed as Record<string, unknown>);
}

/** Reads docker's AuthConfig JSON (X-Registry-Auth, the POST /auth body), keys in any case. */
export function authConfigFromJson(value: Record<string, unknown>): AuthConfig {
  const get = (key: string): string | undefined => {
    for (const [k, v] of Object.entries(value)) if (k.toLowerCase() === key && typeof v === 'string' && v !== '') return v;
    return undefined;
  };
  const out: AuthConfig = {};
  let username = get('username');
  let password = get('password');
  // `auth` is base64("user:password"), as config.json keeps it.
  const auth = get('auth');
  if (auth !== undefined && username === undefined) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      username = decoded.slice(0, i);
      password = decoded.slice(i + 1) || password;
    }
  }
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  const identityToken = get('identitytoken');
  if (identityToken !== undefined) out.identityToken = identityToken;
  const registryToken = get('registrytoken');
  if (registryToken !== undefined) out.registryToken = registryToken;
  const serverAddress = get('serveraddress');
  if (serverAddress !== undefined) out.serverAddress = serverAddress;
  return out;
}

/** The header value for credentials: base64url with padding (Go's base64.URLEncoding insists on it). */
export function encodeRegistryAuth(auth: AuthConfig): string {
  const json = JSON.stringify({
    username: auth.username ?? '',
    password: auth.password ?? '',
    serveraddress: auth.serverAddress ?? '',
    ...(auth.identityToken ? { identitytoken: auth.identityToken } : {}),
    ...(auth.registryToken ? { registrytoken: auth.registryToken } : {}),
  });
  return Buffer.from(json).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
