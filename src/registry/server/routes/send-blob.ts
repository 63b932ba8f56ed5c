import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
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
 * Writes `length` bytes of the blob from `offset` to the response (headers already sent) and
 * ends it. With a driver's random access, one buffer is read into while the other is being
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
