import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { decompressStream, peek } from '../../images/compression';
import { closeFd, openForReading } from '../../util/fs-at';

export class AddSourceError extends Error {}

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/**
 * ADD <url>: downloads into `file` (a daemon-owned temp path), mtime from Last-Modified as
 * moby does; returns the file name the URL gives (its last path component). An unreachable
 * URL or an error status is an error naming the URL.
 */
export async function downloadUrl(url: string, file: string, signal: AbortSignal): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { message?: string; code?: string } }).cause;
    throw new AddSourceError(`failed to GET ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (!response.ok || !response.body) {
    throw new AddSourceError(`failed to GET ${url} with status ${response.status} ${response.statusText}`);
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(file, { mode: 0o600 }));
  const lastModified = response.headers.get('last-modified');
  const mtime = lastModified ? new Date(lastModified) : new Date(0);
  if (!Number.isNaN(mtime.getTime())) await fs.utimes(file, mtime, mtime);
  const name = path.posix.basename(new URL(url).pathname);
  return name === '' || name === '/' ? '' : name;
}

/**
 * ADD of a local file: is it a tar (plain, gzip, bzip2, xz, zstd)? Then a stream of its
 * uncompressed bytes, which ADD extracts; else null and the file is copied as is. Read
 * through the O_PATH fd's own inode.
 */
export async function openIfArchive(pathFd: number): Promise<Readable | null> {
  const fd = openForReading(pathFd);
  let raw: Readable;
  try {
    raw = createReadStream('', { fd, autoClose: true });
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  try {
    const { stream } = await decompressStream(raw);
    const { head, stream: body } = await peek(stream, 512);
    if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return body;
    body.destroy();
    return null;
  } catch {
    raw.destroy();
    return null;
  }
}
