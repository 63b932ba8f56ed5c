import { messageOf } from '../../errors';
import type { Challenge } from './challenge';
import { describeRegistryErrors, parseRegistryErrors } from '../errcodes';
import { badAnswer, RegistryError } from './errors';
import { goMethod, type Transport } from './transport';
import type { AuthConfig } from './types';

/** A bearer token from a token server, and when to stop using it. */
interface CachedToken {
  token: string;
  refreshToken?: string;
  expiresAt: number;
}

/** Tokens live this long when the server does not say (the token spec's default). */
const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_BODY_LIMIT = 1024 * 1024;

function basicHeader(auth: AuthConfig): string | undefined {
  if (auth.username === undefined || auth.username === '' || auth.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/**
 * Answers a registry's auth challenge for one session (docker's token handler and basic
 * handler): Basic sends the credentials; Bearer fetches a token from the realm for the
 * scopes (GET with basic credentials, or POST with the OAuth2 refresh token when an identity
 * token is given) and caches it per scope set until it expires.
 */
export class Authorizer {
  private readonly tokens = new Map<string, CachedToken>();
  /** Token requests in flight, so parallel blob requests share one. */
  private readonly pending = new Map<string, Promise<CachedToken>>();
  /** The refresh token the last token answer carried (login returns it as IdentityToken). */
  refreshToken: string | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly registry: string,
    private readonly auth: AuthConfig,
    private readonly opts: { offlineToken?: boolean; signal?: AbortSignal } = {},
  ) {}

  /**
   * The Authorization header for a request, given the challenges the registry issued.
   * `failedUrl` names the request in messages when fetching a token fails.
   */
  async header(challenges: Challenge[], scopes: string[], failed: { method: string; url: URL }): Promise<string | undefined> {
    if (this.auth.registryToken) return `Bearer ${this.auth.registryToken}`;
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined) return `Bearer ${await this.token(bearer, scopes, failed)}`;
    if (challenges.some((c) => c.scheme === 'basic')) return basicHeader(this.auth);
    return undefined;
  }

  /** Forgets cached tokens (after a 401 with a token: it expired or lacked a scope). */
  invalidate(): void {
    this.tokens.clear();
  }

  private async token(challenge: Challenge, scopes: string[], failed: { method: string; url: URL }): Promise<string> {
    const key = `${challenge.params.realm} ${challenge.params.service} ${scopes.join(' ')}`;
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.token;
    let inFlight = this.pending.get(key);
    if (inFlight === undefined) {
      inFlight = this.fetchToken(challenge, scopes, failed).finally(() => this.pending.delete(key));
      this.pending.set(key, inFlight);
    }
    const fetched = await inFlight;
    this.tokens.set(key, fetched);
    if (fetched.refreshToken !== undefined) this.refreshToken = fetched.refreshToken;
    return fetched.token;
  }

  private async fetchToken(challenge: Challenge, scopes: string[], failed: { method: string; url: URL }): Promise<CachedToken> {
    const realmText = challenge.params.realm;
    const prefix = `${goMethod(failed.method)} "${failed.url.href}"`;
    if (realmText === undefined || realmText === '') throw badAnswer(this.registry, `${prefix}: the Bearer challenge has no realm`);
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch (err) {
      throw badAnswer(this.registry, `${prefix}: the Bearer realm ${JSON.stringify(realmText)} is not a URL`, err);
    }
    if (realm.protocol !== 'http:' && realm.protocol !== 'https:') throw badAnswer(this.registry, `${prefix}: the Bearer realm ${realm.href} is not http(s)`);
    const service = challenge.params.service;
    let method: 'GET' | 'POST';
    let body: Buffer | undefined;
    const headers: Record<string, string> = {};
    if (this.auth.identityToken) {
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.auth.identityToken, client_id: 'docker' });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded; charset=utf-8';
    } else {
      method = 'GET';
      if (service !== undefined) realm.searchParams.set('service', service);
      for (const scope of scopes) realm.searchParams.append('scope', scope);
      if (this.auth.username) realm.searchParams.set('account', this.auth.username);
      if (this.opts.offlineToken) {
        realm.searchParams.set('offline_token', 'true');
        realm.searchParams.set('client_id', 'docker');
      }
      const basic = basicHeader(this.auth);
      if (basic !== undefined) headers.Authorization = basic;
    }
    const res = await this.transport.send({ method, url: realm, headers, body, registry: this.registry, signal: this.opts.signal });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > TOKEN_BODY_LIMIT) {
        res.body.destroy();
        throw badAnswer(this.registry, `${prefix}: the token server's answer is larger than ${TOKEN_BODY_LIMIT} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks);
    if (res.status < 200 || res.status > 299) {
      const entries = parseRegistryErrors(text) ?? [];
      const details = detailsOf(text);
      const what = entries.length > 0 ? describeRegistryErrors(entries) : res.status === 401 ? `unauthorized: ${details ?? 'authentication required'}` : `token server ${realm.origin} answered ${res.status} ${res.statusText}`;
      throw new RegistryError(res.status === 401 ? 'Unauthorized' : res.status === 403 ? 'Forbidden' : 'Unavailable', `${prefix}: ${what}`, { registry: this.registry, status: res.status, entries });
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text.toString('utf8')) as Record<string, unknown>;
      if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
    } catch (err) {
      throw badAnswer(this.registry, `${prefix}: the token server sent invalid JSON: ${messageOf(err)}`, err);
    }
    const token = typeof parsed.access_token === 'string' && parsed.access_token !== '' ? parsed.access_token : parsed.token;
    if (typeof token !== 'string' || token === '') throw badAnswer(this.registry, `${prefix}: the token server's answer has no token`);
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    // Renew a little early, so a token does not expire between our check and the registry's.
    const expiresAt = Date.now() + Math.max(1, seconds - 5) * 1000;
    const refreshToken = typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : undefined;
    return { token, expiresAt, ...(refreshToken !== undefined ? { refreshToken } : {}) };
  }
}

/** Docker Hub's token server answers `{"details": "incorrect username or password"}`. */
function detailsOf(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { details?: unknown };
    return typeof parsed.details === 'string' ? parsed.details : undefined;
  } catch {
    return undefined;
  }
}
