import { messageOf } from '../../errors';
import { DEFAULT_DOMAIN, type Reference } from '../../images/reference';
import { Authorizer } from './auth';
import { parseChallenges } from './challenge';
import { endpointsFor, validateSettings, type Endpoint } from './endpoints';
import { badAnswer, RegistryError } from './errors';
import { Session, type PingResult } from './session';
import { goMethod, Transport } from './transport';
import type { AuthConfig, RegistryHosts, RegistrySession, RegistrySettings, SessionOptions } from './types';

/** How long a ping's answer (scheme and auth challenge) is trusted. */
const PING_TTL_MS = 5 * 60_000;

/**
 * The daemon's registry client: its settings (mirrors, insecure registries), one HTTP
 * transport with keep-alive connections, and what each endpoint answered to `GET /v2/`.
 */
export class RegistryClient implements RegistryHosts {
  readonly settings: RegistrySettings;
  private readonly transport: Transport;
  private readonly pings = new Map<string, { at: number; result: Promise<PingResult> }>();
  /**
   * Insecure registries last reached over plain http, and when: their next sessions try http
   * first (https after it), so a loopback registry's pull does not begin with a failed TLS
   * handshake every time. Kept as long as a ping's answer: a registry that turns to https on
   * the same address is found once that expires (or by a fresh daemon), as its cached ping of
   * plain http would send it there anyway until then.
   */
  private readonly plainHttp = new Map<string, number>();

  constructor(settings: RegistrySettings = { mirrors: [], insecureRegistries: [] }) {
    this.settings = validateSettings(settings);
    this.transport = new Transport({ certsDir: settings.certsDir });
  }

  session(ref: Reference, opts: SessionOptions = {}): RegistrySession {
    const actions = opts.actions ?? ['pull'];
    const purpose = actions.every((a) => a === 'pull') ? 'pull' : 'push';
    const endpoints = this.httpFirst(ref.domain, endpointsFor(ref.domain, this.settings, purpose));
    return new Session(ref, endpoints, { transport: this.transport, ping: (e, r, s) => this.ping(e, r, s), found: (e) => this.found(ref.domain, e) }, opts);
  }

  /** An insecure registry's [https unverified, http] as [http, https] when http is what answered last. */
  private httpFirst(domain: string, endpoints: Endpoint[]): Endpoint[] {
    const at = this.plainHttp.get(domain);
    const [tls, plain] = endpoints;
    if (at === undefined || Date.now() - at >= PING_TTL_MS || endpoints.length !== 2 || !tls!.insecureTls || plain!.base.protocol !== 'http:') return endpoints;
    return [plain!, tls!];
  }

  private found(domain: string, endpoint: Endpoint): void {
    if (endpoint.mirror) return;
    if (endpoint.base.protocol === 'http:') this.plainHttp.set(domain, Date.now());
    else this.plainHttp.delete(domain);
  }

  /**
   * docker login: pings the registry, then asks `GET /v2/` with the credentials (a token
   * for no scope, with offline_token so the token server may give a refresh token).
   */
  async login(serverAddress: string, auth: AuthConfig): Promise<{ identityToken: string }> {
    const domain = loginDomain(serverAddress);
    const endpoints = endpointsFor(domain, this.settings, 'push');
    let lastError: unknown;
    for (const [i, endpoint] of endpoints.entries()) {
      let ping: PingResult;
      try {
        ping = await this.ping(endpoint, domain);
      } catch (err) {
        lastError = err;
        if (i + 1 < endpoints.length) continue;
        throw err;
      }
      const url = new URL('/v2/', endpoint.base);
      const authorizer = new Authorizer(this.transport, domain, auth, { offlineToken: true });
      const headers: Record<string, string> = {};
      const authorization = await authorizer.header(ping.challenges, [], { method: 'GET', url });
      if (authorization !== undefined) headers.Authorization = authorization;
      const res = await this.transport.send({ method: 'GET', url, headers, insecureTls: endpoint.insecureTls, registry: domain });
      res.body.resume();
      if (res.status !== 200) {
        throw new RegistryError(res.status === 401 ? 'Unauthorized' : 'Unavailable', `login attempt to ${url.href} failed with status: ${res.status} ${res.statusText}`, {
          registry: domain,
          status: res.status,
        });
      }
      return { identityToken: authorizer.refreshToken ?? '' };
    }
    throw lastError;
  }

  close(): void {
    this.transport.close();
  }

  private ping(endpoint: Endpoint, registry: string, signal?: AbortSignal): Promise<PingResult> {
    const key = endpoint.base.href;
    const cached = this.pings.get(key);
    if (cached !== undefined && Date.now() - cached.at < PING_TTL_MS) return cached.result;
    const result = this.pingOnce(endpoint, registry, signal);
    this.pings.set(key, { at: Date.now(), result });
    result.catch(() => {
      if (this.pings.get(key)?.result === result) this.pings.delete(key);
    });
    return result;
  }

  private async pingOnce(endpoint: Endpoint, registry: string, signal?: AbortSignal): Promise<PingResult> {
    const url = new URL('/v2/', endpoint.base);
    const res = await this.transport.send({ method: 'GET', url, headers: {}, insecureTls: endpoint.insecureTls, signal, registry });
    res.body.resume();
    if (res.status === 200) return { challenges: [] };
    if (res.status === 401) {
      const challenges = parseChallenges(res.headers['www-authenticate']);
      if (challenges.length === 0) throw badAnswer(registry, `${goMethod('GET')} "${url.href}": 401 without a WWW-Authenticate challenge`);
      return { challenges };
    }
    throw badAnswer(registry, `${goMethod('GET')} "${url.href}": ${res.status} ${res.statusText}: not a registry API v2 endpoint`);
  }
}

/**
 * The registry a login names: docker.io for Docker Hub's index URLs, else the host of the
 * address (a scheme and path, as in http://localhost:5000/v2/, are dropped).
 */
export function loginDomain(serverAddress: string): string {
  const s = serverAddress.trim();
  if (s === '' || /^(https?:\/\/)?(index\.)?docker\.io(\/v1\/?)?\/?$/.test(s) || s === 'registry-1.docker.io') return DEFAULT_DOMAIN;
  try {
    return new URL(/^[a-z]+:\/\//.test(s) ? s : `https://${s}`).host;
  } catch (err) {
    throw new RegistryError('InvalidArgument', `invalid registry address ${JSON.stringify(serverAddress)}: ${messageOf(err)}`, { registry: s });
  }
}
