import * as http from 'node:http';
import { Duplex, type Readable } from 'node:stream';
import type { DaemonHost } from './host';
import { ClientError, ConnectError, messageFromBody } from './errors';

export type QueryValue = string | number | boolean | undefined | null | string[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** A JSON value (sent as application/json), raw bytes, or a stream (e.g. a tar). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Builds `?a=1&b=x`: booleans as 1/0 (dockerd's BoolValue), arrays repeated, undefined skipped. */
export function buildQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else if (typeof value === 'boolean') params.append(key, value ? '1' : '0');
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}

const CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND']);

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

async function readAll(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A hijacked connection: raw bytes both ways (attach, exec start). */
export interface Hijacked {
  socket: Duplex;
}

/** HTTP over the daemon's socket, with a keep-alive agent; knows nothing about endpoints. */
export class Transport {
  private readonly agent: http.Agent;

  constructor(readonly host: DaemonHost, private readonly userAgent = 'berth-cli') {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  private baseOptions(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const base: http.RequestOptions = { method, path, headers: { 'User-Agent': this.userAgent, ...headers } };
    // servername as node would compute it from host: given, node's agent skips net.isIP(),
    // whose IPv6 regex costs ≈ 20 ms to compile in every short-lived CLI process.
    if (this.host.kind === 'unix') return { ...base, socketPath: this.host.socketPath, host: 'localhost', servername: 'localhost' } as http.RequestOptions;
    return { ...base, host: this.host.host, port: this.host.port };
  }

  private connectError(err: unknown): Error {
    const code = errCode(err);
    if (code !== undefined && CONNECT_CODES.has(code)) return new ConnectError(this.host.url, code, err);
    return err instanceof Error ? err : new Error(String(err));
  }

  private prepareBody(body: unknown, headers: Record<string, string>): Buffer | Readable | undefined {
    if (body === undefined) return undefined;
    if (isReadable(body)) return body;
    if (Buffer.isBuffer(body)) return body;
    headers['Content-Type'] ??= 'application/json';
    return Buffer.from(JSON.stringify(body));
  }

  /** Sends a request; resolves with the response once its status is 2xx, else throws ClientError. */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const headers = { ...(opts.headers ?? {}) };
    const body = this.prepareBody(opts.body, headers);
    if (Buffer.isBuffer(body)) headers['Content-Length'] = String(body.length);
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ ...this.baseOptions(method, path + buildQuery(opts.query), headers), agent: this.agent });
      req.on('error', (err) => reject(this.connectError(err)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        readAll(res).then(
          (text) => reject(new ClientError(status, messageFromBody(text, status))),
          (err: unknown) => reject(err),
        );
      });
      if (isReadable(body)) {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  /** Sends a request and reads the whole 2xx body as text. */
  async text(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
    return readAll(await this.request(method, path, opts));
  }

  /**
   * Upgrades the connection to a raw stream like docker's hijack: sends `Connection: Upgrade`
   * and `Upgrade: tcp`, expects 101. A daemon that answers 200 instead is accepted too (the
   * response body is then the output and the request the input).
   */
  hijack(path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'tcp', ...(opts.headers ?? {}) };
    const body = this.prepareBody(opts.body ?? {}, headers);
    if (Buffer.isBuffer(body)) headers['Content-Length'] = String(body.length);
    return new Promise<Hijacked>((resolve, reject) => {
      const req = http.request({ ...this.baseOptions('POST', path + buildQuery(opts.query), headers), agent: false });
      req.on('error', (err) => reject(this.connectError(err)));
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        socket.setNoDelay?.(true);
        resolve({ socket });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          // Not upgraded: the socket still carries both directions once the headers are read.
          const socket = res.socket;
          res.pause();
          resolve({ socket: new ResponseDuplex(res, socket) });
          return;
        }
        readAll(res).then(
          (text) => reject(new ClientError(status, messageFromBody(text, status))),
          (err: unknown) => reject(err),
        );
      });
      req.end(Buffer.isBuffer(body) ? body : undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Reads from a non-upgraded response body and writes to its socket. */
class ResponseDuplex extends Duplex {
  constructor(private readonly res: http.IncomingMessage, private readonly raw: Duplex) {
    super();
    res.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) res.pause();
    });
    res.on('end', () => this.push(null));
    res.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.res.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.raw.write(chunk, cb);
  }

  /** No half-close here: ending the socket would also end the response being read. */
  override _final(cb: (err?: Error | null) => void): void {
    cb();
  }
}
