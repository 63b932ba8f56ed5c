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

  constructor(settings: RegistrySettings = { mirrors: [], insecureRegistries: [] }) {
    this.settings = validateSettings(settings);
    this.transport = new Transport({ certsDir: settings.certsDir });
  }

  session(ref: Reference, opts: SessionOptions = {}): RegistrySession {
    const actions = opts.actions ?? ['pull'];
    const purpose = actions.every((a) => a === 'pull') ? 'pull' : 'push';
    return new Session(ref, endpointsFor(ref.domain, this.settings, purpose), { transport: this.transport, ping: (e, r, s) => this.ping(e, r, s) }, opts);
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
