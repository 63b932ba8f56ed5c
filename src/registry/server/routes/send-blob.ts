import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { hasSendFile, native } from '../../../native';
import type { Digest } from '../../../util/digest';
import type { BlobDriver, BlobReader } from '../storage/driver';

/**
 * Bytes per read when copying a blob into a response. A stream's fresh 64 KiB buffer per
 * read cost a thread-pool round trip each; fresh 1 MiB buffers cost page faults on new
 * memory instead. Two reused buffers of this size cost neither: per response 1 MiB, as
 * distribution's 4 MiB read buffer per blob reader.
 */
export const SEND_CHUNK_BYTES = 512 * 1024;

/**
 * Native sends running at once at most: each holds a thread of its own while its client
 * reads (native/addon/send_file.c); beyond them, blobs go through Node's buffers.
 */
const MAX_NATIVE_SENDS = 64;
let nativeSends = 0;

/**
 * Ranges at least this long go by a native send: below it, starting the send's thread costs
 * more than it saves (a 661-byte config: 0.4 ms through Node, 1.1 ms natively).
 */
const MIN_NATIVE_SEND_BYTES = 256 * 1024;

/**
 * Writes `length` bytes of the blob from `offset` to the response (headers set, not sent) and
 * ends it. A local file on a plain-TCP connection is sent by the addon's sendFile, on a
 * thread of its own (no JS, Buffer or thread-pool round trip per chunk: a skopeo pull's
 * server CPU about halves). Otherwise, with a driver's random access, one buffer is read into while the other is being
 * written to the socket; a buffer is read into again only after its write has completed.
 * Otherwise the driver's stream is piped.
 */
export async function sendBlob(driver: BlobDriver, digest: Digest, res: ServerResponse, range: { offset: number; length: number }, opened?: BlobReader): Promise<void> {
  if (!opened && !driver.openBlob) {
    await pipeline(driver.readBlob(digest, range), res);
    return;
  }
  // `opened`: the caller's reader (its size answered the request), closed here as ours.
  const reader = opened ?? (await driver.openBlob!(digest));
  try {
    const socketFd = plainSocketFd(res);
    if (range.length >= MIN_NATIVE_SEND_BYTES && reader.fd !== undefined && socketFd !== undefined && nativeSends < MAX_NATIVE_SENDS && hasSendFile()) {
      await sendNatively(res, socketFd, reader.fd, range);
      return;
    }
    const chunk = Math.min(SEND_CHUNK_BYTES, range.length);
    const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
    const closed = whenClosed(res);
    closed.catch(() => undefined); // raced below; a close after the end is nobody's error
    let writing: Promise<void> = Promise.resolve();
    let position = range.offset;
    const end = range.offset + range.length;
    for (let k = 0; position < end; k++) {
      const buffer = buffers[k % 2]!;
      const n = await reader.read(buffer.subarray(0, Math.min(chunk, end - position)), position);
      if (n === 0) throw new Error(`blob ${digest} ended at ${position} bytes, before the ${end} its size promised`);
      await Promise.race([writing, closed]);
      writing = write(res, buffer.subarray(0, n));
      writing.catch(() => undefined); // raced with `closed`: a write failing after the client left is no one's error
      position += n;
    }
    await Promise.race([writing, closed]);
    await Promise.race([new Promise<void>((resolve) => res.end(resolve)), closed]);
  } finally {
    await reader.close();
  }
}

/** The fd of a response's plain TCP socket (not TLS: its bytes must go through Node), or undefined. */
function plainSocketFd(res: ServerResponse): number | undefined {
  const socket = res.socket as (Socket & { encrypted?: boolean; _handle?: { fd?: unknown } }) | null;
  if (!socket || socket.encrypted) return undefined;
  const fd = socket._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Sends the range of the open file `fileFd` to the socket's fd by the addon's sendFile. Node's
 * headers go first and must have left Node's socket before the file's bytes are put on the
 * fd (the empty write's callback runs once everything written before it has been handed to
 * the kernel); nothing else writes to the socket until this response ends. The send stops
 * when the client goes away.
 */
async function sendNatively(res: ServerResponse, socketFd: number, fileFd: number, range: { offset: number; length: number }): Promise<void> {
  const socket = res.socket!;
  const closed = whenClosed(res);
  closed.catch(() => undefined); // raced below; a close after the end is nobody's error
  res.flushHeaders();
  await Promise.race([new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve()))), closed]);
  nativeSends++;
  const [sent, handle] = native.sendFile!(socketFd, fileFd, range.offset, range.length);
  const cancel = () => native.sendFileCancel!(handle);
  res.once('close', cancel);
  try {
    await sent;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECANCELED' || code === 'EPIPE' || code === 'ECONNRESET') throw Object.assign(new Error('aborted'), { code: 'ECONNRESET', cause: err });
    throw err;
  } finally {
    nativeSends--;
    res.off('close', cancel);
  }
  await Promise.race([new Promise<void>((resolve) => res.end(resolve)), closed]);
}

function write(res: ServerResponse, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => res.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Rejects when the response is closed before it finished (the client went away). */
function whenClosed(res: ServerResponse): Promise<never> {
  return new Promise((_, reject) => {
    res.once('close', () => {
      if (!res.writableFinished) reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    });
  });
}
