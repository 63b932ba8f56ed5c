import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { createApiServer, type ApiServer } from '../../../src/api/server';
import type { Logger } from '../../../src/util/logger';
import { fakeBackends } from './fake-backends';

export interface Harness {
  socketPath: string;
  backends: ReturnType<typeof fakeBackends>;
  server: ApiServer;
  /** "METHOD /path" of every request the server saw, in order. */
  requests: string[];
  stop(): Promise<void>;
}

/** A server on a fresh socket in its own temp dir, with fake backends. */
export async function startHarness(options: { headersTimeoutMs?: number } = {}): Promise<Harness> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bapi-'));
  const socketPath = path.join(dir, 'api.sock');
  const requests: string[] = [];
  const logger: Logger = {
    debug(msg, fields) {
      if (msg === 'request received' && fields) requests.push(`${fields.method} ${fields.url}${fields.upgrade ? ' (Upgrade: tcp)' : ''}`);
      if (msg === 'request' && fields) requests.push(`  done ${fields.method} ${fields.url} -> ${fields.status}`);
    },
    info() {},
    warn() {},
    error(msg, fields) {
      process.stderr.write(`${msg} ${JSON.stringify(fields)}\n`);
    },
  };
  const backends = fakeBackends();
  const server = createApiServer(backends, { logger, socketPath, serverVersion: '0.1.0-test', ...options });
  await server.listen();
  return {
    socketPath,
    backends,
    server,
    requests,
    async stop() {
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = unknown>(): T;
}

export function request(socketPath: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath, method, path: urlPath, headers: { ...(payload && !Buffer.isBuffer(body) ? { 'Content-Type': 'application/json' } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: <T>() => JSON.parse(buf.toString()) as T });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends a raw HTTP request and returns the open socket plus everything read so far. */
export function rawConnect(socketPath: string, requestText: string): { socket: net.Socket; received: () => Buffer; ended: Promise<void> } {
  const socket = net.connect({ path: socketPath, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
  socket.write(requestText);
  return { socket, received: () => Buffer.concat(chunks), ended };
}

/** Splits "headers\r\n\r\nbody" of a raw response. */
export function splitResponse(raw: Buffer): { head: string; body: Buffer } {
  const at = raw.indexOf('\r\n\r\n');
  return { head: raw.subarray(0, at).toString(), body: raw.subarray(at + 4) };
}

/** Decodes stdcopy frames into [streamId, text] pairs. */
export function demux(body: Buffer): [number, string][] {
  const out: [number, string][] = [];
  let at = 0;
  while (at + 8 <= body.length) {
    const size = body.readUInt32BE(at + 4);
    out.push([body[at]!, body.subarray(at + 8, at + 8 + size).toString()]);
    at += 8 + size;
  }
  return out;
}

export async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
