import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import { errorResponse } from '../errors-to-status';
import { invalidArgument, messageOf } from '../../errors';
import { Query } from './query';
import { encodeJsonBody, writeJsonList, SpareBuffer } from './json-encode';

/** Bodies from this size on are built in a reused buffer (see SpareBuffer). */
const LARGE_BODY = 256 * 1024;
const largeBodies = new SpareBuffer();
import type { BodyDecoder } from '../schemas/go-json';

/** Largest JSON request body accepted (create bodies are a few KB; Docker has no limit). */
const MAX_JSON_BODY = 16 * 1024 * 1024;

/**
 * The transport after a hijack: raw bytes both ways. `input` carries what the client sends
 * (its 'end' is the client's half-close); `output` goes straight to the client; `close()`
 * ends the connection once output is flushed.
 */
export interface HijackedStream {
  input: Readable;
  output: Writable;
  /** True when `input` ending means the client half-closed (the Upgrade form). */
  inputEndIsHalfClose: boolean;
  close(): void;
}

/**
 * One request and its response. Arrives either as a plain request (res from node) or from
 * node's 'upgrade' event (a ServerResponse built on the raw socket), so routes need not care,
 * except that hijacking answers 101 only when the client asked to upgrade.
 */
export class Exchange {
  readonly query: Query;
  params: Record<string, string> = {};
  apiVersion = '';
  hijacked = false;
  private bodyConsumed = false;
  private readonly abort = new AbortController();

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
    searchParams: URLSearchParams,
    /** The raw socket when the request came through node's 'upgrade' event. */
    private readonly upgradeSocket?: Duplex,
  ) {
    this.query = new Query(searchParams);
    res.on('close', () => {
      if (!res.writableFinished) this.abort.abort();
    });
  }

  /** Aborted when the client goes away before the response ends, or the server shuts down. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  cancel(): void {
    this.abort.abort();
  }

  get headersSent(): boolean {
    return this.hijacked || this.res.headersSent;
  }

  get wantsUpgrade(): boolean {
    return this.upgradeSocket !== undefined || this.req.headers.upgrade !== undefined;
  }

  param(name: string): string {
    const value = this.params[name];
    if (value === undefined) throw new Error(`route has no parameter ${name}`);
    return value;
  }

  json(status: number, body: unknown): void {
    // Go's json.Encoder ends each value with a newline; clients tolerate both, tests compare.
    // Bytes, not a string: a 2.6 MB listing is encoded to UTF-8 once, not measured and then encoded.
    const encoded = encodeJsonBody(body);
    this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': encoded.length });
    if ('bytes' in encoded) {
      this.res.end(encoded.bytes);
    } else if (encoded.length < LARGE_BODY) {
      this.res.end(writeJsonList(encoded.items, Buffer.allocUnsafe(encoded.length)));
    } else {
      const buffer = largeBodies.take(encoded.length);
      // Given back only once written out; after an error (client gone) it is left to the GC.
      this.res.end(writeJsonList(encoded.items, buffer), (err?: Error | null) => {
        if (!err) largeBodies.give(buffer);
      });
    }
  }

  empty(status: number): void {
    this.res.writeHead(status, status === 204 || status === 304 ? {} : { 'Content-Length': 0 });
    this.res.end();
  }

  text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    this.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
  }

  error(err: unknown): void {
    const { status, body } = errorResponse(err);
    if (status === 304) this.empty(304);
    else this.json(status, body);
  }

  /** Starts a streamed 200 response and flushes its headers at once. */
  startStream(contentType: string, extraHeaders: Record<string, string> = {}): Writable {
    this.res.writeHead(200, { 'Content-Type': contentType, ...extraHeaders });
    this.res.flushHeaders();
    return this.res;
  }

  /** The request body as JSON; undefined when empty. 400 when malformed. */
  async readJson<T>(): Promise<T | undefined> {
    const text = (await this.readSmallBody()).toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err: unknown) {
      throw invalidArgument(`invalid JSON: ${messageOf(err)}`, err);
    }
  }

  /** The JSON body checked against its schema before any engine code sees it; undefined when empty or null. */
  async readBody<T>(decoder: BodyDecoder<T>): Promise<T | undefined> {
    return decoder.decode(await this.readJson<unknown>());
  }

  /**
   * The whole (small) body. Node does not parse the body of an Upgrade request, so there
   * it is read off the raw socket by Content-Length; the docker CLI sends exec start's JSON
   * body that way. Bytes past the body stay in the socket for the hijacked stream.
   */
  private async readSmallBody(): Promise<Buffer> {
    this.bodyConsumed = true;
    if (!this.upgradeSocket) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of this.req) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > MAX_JSON_BODY) throw invalidArgument('request body too large');
        chunks.push(buf);
      }
      return Buffer.concat(chunks);
    }
    const length = parseInt(this.req.headers['content-length'] ?? '0', 10) || 0;
    if (length > MAX_JSON_BODY) throw invalidArgument('request body too large');
    return readExactly(this.upgradeSocket, length);
  }

  /**
   * Takes over the connection like moby's HijackConnection: answers "101 UPGRADED" when the
   * client sent `Upgrade`, else a close-delimited "200 OK" (older clients), with this
   * response's headers copied, then hands over the raw socket. A request body nobody read
   * (dockerode sends its attach options as one) is skipped, not taken for stdin, as moby's
   * hijack leaves it behind in the HTTP reader. Resolves once the headers are written out.
   */
  async hijack(contentType: string): Promise<HijackedStream> {
    if (!this.bodyConsumed) await this.readSmallBody();
    this.hijacked = true;
    const socket = this.upgradeSocket ?? this.req.socket;
    const head = this.upgradeSocket
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n`;
    let extra = '';
    for (const [name, value] of Object.entries(this.res.getHeaders())) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) extra += `${canonicalHeader(name)}: ${v}\r\n`;
    }
    if (this.upgradeSocket) this.res.detachSocket(this.upgradeSocket as never);
    socket.on('error', () => this.abort.abort());
    socket.on('close', () => this.abort.abort());
    // Flushed (handed to the kernel) before the caller starts the process, as dockerd does.
    await new Promise<void>((resolve, reject) => {
      socket.write(head + extra + '\r\n', (err) => (err ? reject(err) : resolve()));
    });
    const close = () => {
      if (socket.destroyed) return;
      socket.end();
      // A client that never closes its side must not keep the socket forever.
      setTimeout(() => socket.destroy(), 2000).unref();
    };
    if (this.upgradeSocket) {
      return { input: socket, output: socket, inputEndIsHalfClose: true, close };
    }
    // Plain form: node's parser still owns the socket's input (the body is read already),
    // so there is no stdin beyond it; the socket closing still ends the session.
    return { input: this.req, output: socket, inputEndIsHalfClose: false, close };
  }
}

/** "api-version" → "Api-Version", as Go prints header names. */
export function canonicalHeader(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/** Reads exactly `length` bytes (fewer if the peer ends first), leaving the rest unread. */
async function readExactly(socket: Duplex, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < length) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      if (socket.readableEnded || socket.destroyed) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('readable', done).off('end', done).off('close', done);
          resolve();
        };
        socket.on('readable', done).on('end', done).on('close', done);
      });
      continue;
    }
    const need = length - got;
    if (chunk.length > need) {
      chunks.push(chunk.subarray(0, need));
      socket.unshift(chunk.subarray(need));
      got = length;
    } else {
      chunks.push(chunk);
      got += chunk.length;
    }
  }
  return Buffer.concat(chunks);
}
