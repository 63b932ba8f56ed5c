import type { IncomingHttpHeaders } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { EngineError } from '../../errors';
import { Digester, digestOf, type Digest } from '../../util/digest';

/**
 * The registry side of a push (the distribution spec's "push" workflow), over an
 * authenticated session: blob existence (HEAD), cross-repository mount, uploads (monolithic
 * PUT, chunked PATCHes with Content-Range, or one streamed PATCH when the digest is known
 * only at the end), and the manifest PUT. Registry errors come from the session, naming the
 * registry; this module adds the protocol checks (a missing Location, a digest the registry
 * computed differently).
 */

/** What a push needs of a registry session (src/registry/client/types.ts RegistrySession). */
export interface PushSession {
  /** The registry's host as users name it (localhost:5000): for messages and blob labels. */
  readonly registry: string;
  /** The repository pushed to (library/busybox). */
  readonly repository: string;
  request(req: PushRequest): Promise<PushResponse>;
  hasBlob(digest: Digest): Promise<boolean>;
}

export interface PushRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the repository (`blobs/uploads/`), or a Location the registry gave. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  accept?: (status: number) => boolean;
}

export interface PushResponse {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  discard(): Promise<void>;
}

/** A blob to upload whose digest and size are known: read from `open()` (called again on a retry). */
export interface KnownBlob {
  digest: Digest;
  size: number;
  open(): Readable;
}

export interface UploadOptions {
  /** An upload the registry opened already (a mount it declined). */
  location?: string;
  /** Upload in PATCHes of this many bytes (each with Content-Range); default: one PUT. */
  chunkSize?: number;
  /** Bytes sent so far. */
  onProgress?: (sent: number) => void;
}

class PushProtocolError extends EngineError {
  constructor(registry: string, what: string) {
    super('Internal', `registry ${registry} answered badly: ${what}`);
  }
}

function locationOf(s: PushSession, res: PushResponse, what: string): string {
  const location = res.headers.location;
  if (typeof location !== 'string' || location === '') throw new PushProtocolError(s.registry, `no Location in its answer to ${what}`);
  // Relative locations are relative to the URL that answered.
  return new URL(location, res.url).href;
}

/** The upload URL with `digest=` added (it may carry the registry's own state parameters). */
function withDigest(location: string, digest: Digest): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.href;
}

/** Counts bytes passing through, for progress. */
function counting(onProgress: ((sent: number) => void) | undefined, start = 0): Transform {
  let sent = start;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      onProgress?.(sent);
      done(null, chunk);
    },
  });
}

function piped(source: Readable, through: Transform): Readable {
  source.on('error', (err) => through.destroy(err));
  return source.pipe(through);
}

/** Starts an upload session: POST blobs/uploads/ → the Location to send the bytes to. */
export async function startUpload(s: PushSession): Promise<string> {
  const res = await s.request({ method: 'POST', path: 'blobs/uploads/', headers: { 'Content-Length': '0' }, accept: (st) => st === 202 });
  await res.discard();
  return locationOf(s, res, 'an upload start');
}

/**
 * Asks the registry to mount `digest` from another repository of the same registry.
 * `mounted` when it did (201); otherwise the upload it opened instead (202), to be used.
 */
export async function mountBlob(s: PushSession, digest: Digest, fromRepository: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
  const query = new URLSearchParams({ mount: digest, from: fromRepository });
  const res = await s.request({
    method: 'POST',
    path: `blobs/uploads/?${query.toString()}`,
    headers: { 'Content-Length': '0' },
    accept: (st) => st === 201 || st === 202,
  });
  await res.discard();
  if (res.status === 201) return { mounted: true };
  return { mounted: false, location: locationOf(s, res, 'a cross-repository mount') };
}

/** Drops an upload the push will not finish (best effort: the registry expires it anyway). */
export async function cancelUpload(s: PushSession, location: string): Promise<void> {
  try {
    const res = await s.request({ method: 'DELETE', path: location, accept: () => true });
    await res.discard();
  } catch {
    // The registry forgets abandoned uploads by itself.
  }
}

/** Uploads a blob of known digest: one PUT (monolithic), or PATCHes of `chunkSize` with Content-Range, then the PUT. */
export async function uploadBlob(s: PushSession, blob: KnownBlob, opts: UploadOptions = {}): Promise<void> {
  let location = opts.location ?? (await startUpload(s));
  const chunkSize = opts.chunkSize;
  if (chunkSize === undefined || chunkSize <= 0 || blob.size <= chunkSize) {
    // Every source opened is closed at the end, also when the request failed half-way.
    const opened: Readable[] = [];
    try {
      const res = await s.request({
        method: 'PUT',
        path: withDigest(location, blob.digest),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
        body: () => {
          const source = blob.open();
          opened.push(source);
          return piped(source, counting(opts.onProgress));
        },
        accept: (st) => st === 201,
      });
      await res.discard();
      checkDigest(s, res, blob.digest);
    } finally {
      for (const source of opened) source.destroy();
    }
    return;
  }
  const source = blob.open();
  let offset = 0;
  try {
    for await (const chunk of chunksOf(source, chunkSize)) {
      const res = await s.request({
        method: 'PATCH',
        path: location,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(chunk.length),
          'Content-Range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
        accept: (st) => st === 202,
      });
      await res.discard();
      location = locationOf(s, res, 'an upload chunk');
      offset += chunk.length;
      opts.onProgress?.(offset);
    }
  } finally {
    source.destroy();
  }
  if (offset !== blob.size) throw new EngineError('Internal', `blob ${blob.digest} had ${offset} bytes, ${blob.size} expected`);
  const res = await s.request({ method: 'PUT', path: withDigest(location, blob.digest), headers: { 'Content-Length': '0' }, accept: (st) => st === 201 });
  await res.discard();
  checkDigest(s, res, blob.digest);
}

/**
 * Uploads bytes whose digest is known only once they are all sent (a layer compressed on the
 * way): one streamed PATCH while they are digested, then the PUT with the digest.
 * `source` can be read once: a request that would need it again fails instead.
 */
export async function uploadStream(s: PushSession, source: Readable, opts: UploadOptions = {}): Promise<{ digest: Digest; size: number }> {
  const location = opts.location ?? (await startUpload(s));
  const digester = new Digester();
  let opened = false;
  const res = await s.request({
    method: 'PATCH',
    path: location,
    headers: { 'Content-Type': 'application/octet-stream' },
    body: () => {
      if (opened) throw new EngineError('Internal', `the upload to ${s.registry} had to be repeated, but its data was sent already`);
      opened = true;
      return piped(
        source,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            digester.update(chunk);
            opts.onProgress?.(digester.size);
            done(null, chunk);
          },
        }),
      );
    },
    accept: (st) => st === 202,
  });
  await res.discard();
  const digest = digester.digest();
  const put = await s.request({ method: 'PUT', path: withDigest(locationOf(s, res, 'a streamed upload'), digest), headers: { 'Content-Length': '0' }, accept: (st) => st === 201 });
  await put.discard();
  checkDigest(s, put, digest);
  return { digest, size: digester.size };
}

/** PUT manifests/<tag>: the exact bytes, with their media type as Content-Type. Returns their digest. */
export async function putManifest(s: PushSession, tag: string, mediaType: string, bytes: Buffer): Promise<Digest> {
  const res = await s.request({
    method: 'PUT',
    path: `manifests/${encodeURIComponent(tag)}`,
    headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
    body: bytes,
    accept: (st) => st === 201,
  });
  await res.discard();
  const digest = digestOf(bytes);
  checkDigest(s, res, digest);
  return digest;
}

/** A registry that stored other bytes than we sent says so in Docker-Content-Digest. */
function checkDigest(s: PushSession, res: PushResponse, sent: Digest): void {
  const answered = res.headers['docker-content-digest'];
  if (typeof answered === 'string' && answered !== '' && answered !== sent) {
    throw new PushProtocolError(s.registry, `it stored ${answered} for the content ${sent} sent`);
  }
}

/** Re-cuts a stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* chunksOf(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    pending.push(chunk);
    length += chunk.length;
    while (length >= size) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, size);
      pending = [all.subarray(size)];
      length -= size;
    }
  }
  if (length > 0) yield Buffer.concat(pending);
}
