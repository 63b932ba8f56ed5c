import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../errcodes';

/** Helpers for answering registry requests: JSON and error bodies, Range headers, small bodies. */

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': String(body.length) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** A response without a body (201/202/204 of uploads and deletes). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': '0' });
  res.end();
}

export function sendError(res: ServerResponse, err: RegistryError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // As distribution's errcode.ServeJSON: a charset on the type, and json.Encoder's newline.
  const body = Buffer.from(JSON.stringify(err.body()) + '\n');
  res.writeHead(err.status, { ...err.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Reads a small request body (a manifest) whole; `limit` bytes at most, else a RegistryError
 * from `tooLarge`.
 */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Reads and drops a body the route does not use, so the connection stays usable. */
export async function drainBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  for await (const _ of req as AsyncIterable<Buffer>) {
    // discard
  }
}

/**
 * A single byte range of an RFC 7233 `Range` header against a blob of `size` bytes:
 * `bytes=a-b`, `bytes=a-`, `bytes=-n`. Returns undefined for no header (or one in another
 * unit, which a server may ignore); throws RANGE_INVALID (416) when it cannot be satisfied.
 */
export function parseRangeHeader(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!/^\s*bytes\s*=/i.test(header)) return undefined;
  const unsatisfiable = () => new RegistryError('RANGE_INVALID', `requested range ${JSON.stringify(header)} not satisfiable for ${size} bytes`, { headers: { 'Content-Range': `bytes */${size}` } });
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable();
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable();
  return { start, end };
}

/**
 * An upload chunk's `Content-Range` (`<start>-<end>`, as the distribution spec writes it, or
 * with a `bytes ` prefix as some clients send): inclusive byte offsets.
 */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(header);
  if (!match) throw new RegistryError('RANGE_INVALID', `invalid Content-Range ${JSON.stringify(header)}`);
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', `invalid Content-Range ${JSON.stringify(header)}: end before start`);
  return { start, end };
}

/** The `Range` header of an upload's status: bytes received so far, `0-0` when none (distribution's form). */
export function uploadRange(offset: number): string {
  return `0-${offset > 0 ? offset - 1 : 0}`;
}
