import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import * as tls from 'node:tls';
import { readCertsDir } from './certs-dir';
import { RegistryError } from './errors';
import { errnoCode, messageOf } from '../../errors';

/**
 * One HTTP exchange with a registry over node's http/https, following redirects (blob GETs
 * are often redirected to a storage backend) and dropping the Authorization header when a
 * redirect leaves the host. Transport failures become RegistryErrors worded as Go's net/http
 * words them, which is what docker shows: `Get "http://127.0.0.1:5000/v2/": dial tcp
 * 127.0.0.1:5000: connect: connection refused`.
 */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | (() => Readable);
  /** Skip TLS certificate verification (an insecure registry). */
  insecureTls?: boolean;
  signal?: AbortSignal;
  /** The registry, for messages. */
  registry: string;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  url: URL;
  body: http.IncomingMessage;
}

const MAX_REDIRECTS = 10;
/** No byte for this long on an open connection: the registry is stuck. */
const IDLE_TIMEOUT_MS = 60_000;

export class Transport {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly insecureAgent = new https.Agent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });
  /** Agents for hosts with files in the certs folder, by host and the files' fingerprint. */
  private readonly hostAgents = new Map<string, { fingerprint: string; agent: https.Agent }>();

  /** `certsDir`: dockerd's /etc/docker/certs.d layout, read at each request (as dockerd does), so new files count at once. */
  constructor(private readonly options: { certsDir?: string } = {}) {}

  async send(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let headers = { ...req.headers };
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const res = await this.once({ ...req, url, method, headers, body });
      const location = res.headers.location;
      if (res.status < 300 || res.status >= 400 || res.status === 304 || location === undefined || (method !== 'GET' && method !== 'HEAD')) return res;
      res.body.resume();
      if (hop >= MAX_REDIRECTS) throw new RegistryError('Internal', `${goMethod(method)} "${url.href}": stopped after ${MAX_REDIRECTS} redirects`, { registry: req.registry });
      const next = new URL(location, url);
      if (next.host !== url.host) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      url = next;
      body = undefined;
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.insecureAgent.destroy();
    for (const { agent } of this.hostAgents.values()) agent.destroy();
  }

  /** The https agent for a host: its certs folder's CAs beside the system's, and its client certificates. */
  private async httpsAgentFor(req: HttpRequest): Promise<https.Agent> {
    if (req.insecureTls) return this.insecureAgent;
    if (!this.options.certsDir) return this.httpsAgent;
    const host = req.url.host;
    const files = await readCertsDir(this.options.certsDir, host, req.registry);
    if (!files) return this.httpsAgent;
    const cached = this.hostAgents.get(host);
    if (cached?.fingerprint === files.fingerprint) return cached.agent;
    cached?.agent.destroy();
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      ca: [...tls.rootCertificates, ...files.ca.map((b) => b.toString())],
      ...(files.clients.length > 0 ? { cert: files.clients.map((c) => c.cert), key: files.clients.map((c) => c.key) } : {}),
    });
    this.hostAgents.set(host, { fingerprint: files.fingerprint, agent });
    return agent;
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const isHttps = req.url.protocol === 'https:';
    const agent = isHttps ? await this.httpsAgentFor(req) : this.httpAgent;
    const lib = isHttps ? https : http;
    const headers: Record<string, string> = { 'User-Agent': 'berth', ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
    return new Promise<HttpResponse>((resolve, reject) => {
      const fail = (err: unknown) => reject(transportError(req, err));
      const r = lib.request(req.url, { method: req.method, headers, agent, signal: req.signal }, (res) => {
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, url: req.url, body: res });
      });
      r.setTimeout(IDLE_TIMEOUT_MS, () => r.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
      r.on('error', fail);
      if (req.body === undefined) r.end();
      else if (Buffer.isBuffer(req.body)) r.end(req.body);
      else {
        const stream = req.body();
        stream.on('error', (err) => r.destroy(err));
        // A request that fails mid-upload must not leave its source open.
        r.on('error', () => stream.destroy());
        stream.pipe(r);
      }
    });
  }
}

/** Go's http.Request method names in errors: "Get", "Head", "Post". */
export function goMethod(method: string): string {
  return method.charAt(0).toUpperCase() + method.slice(1).toLowerCase();
}

function transportError(req: HttpRequest, err: unknown): RegistryError {
  const host = req.url.port !== '' ? req.url.host : `${req.url.hostname}:${req.url.protocol === 'https:' ? 443 : 80}`;
  const code = errnoCode(err);
  let detail: string;
  switch (code) {
    case 'ECONNREFUSED':
      detail = `dial tcp ${host}: connect: connection refused`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      detail = `dial tcp: lookup ${req.url.hostname}: no such host`;
      break;
    case 'ETIMEDOUT':
      detail = `dial tcp ${host}: i/o timeout`;
      break;
    case 'ECONNRESET':
      detail = `read tcp ${host}: connection reset by peer`;
      break;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      detail = `dial tcp ${host}: connect: ${code === 'EHOSTUNREACH' ? 'no route to host' : 'network is unreachable'}`;
      break;
    case 'ABORT_ERR':
      detail = 'context canceled';
      break;
    default:
      detail = messageOf(err);
  }
  const kind = code === 'ABORT_ERR' ? 'Internal' : 'Unavailable';
  return new RegistryError(kind, `${goMethod(req.method)} "${req.url.href}": ${detail}`, { registry: req.registry, cause: err });
}
