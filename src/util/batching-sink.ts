import { Writable } from 'node:stream';

/**
 * How many bytes may wait while one write is in flight before the source is paused: 1 MiB
 * cut an upload's context switches by half; 4 MiB gained nothing more and faulted in more
 * fresh memory.
 */
export const DEFAULT_BATCH_BYTES = 1024 * 1024;

/**
 * A Writable over an async `write(chunks)` (a content-store writer's writev) that keeps
 * accepting chunks while one write is in flight and hands everything that arrived meanwhile
 * to the next write at once (no copy: one writev). Piping a socket into it, the socket is
 * read on while the disk (or a busy thread pool) works, and a write costs one thread-pool
 * round trip per batch instead of one per 64 KiB socket read: on a loaded machine those round
 * trips dominated an upload.
 * `check(chunk)` sees every chunk in order before it is written; a throw stops the sink
 * after the chunks before it were written.
 */
export function batchingSink(write: (chunks: Buffer[]) => Promise<void>, options: { highWaterMark?: number; check?: (chunk: Buffer) => void } = {}): Writable {
  return new Writable({
    highWaterMark: options.highWaterMark ?? DEFAULT_BATCH_BYTES,
    writev(entries, callback) {
      const chunks: Buffer[] = [];
      let failure: unknown;
      for (const { chunk } of entries as Array<{ chunk: Buffer }>) {
        try {
          options.check?.(chunk);
        } catch (err) {
          failure = err;
          break;
        }
        chunks.push(chunk);
      }
      (chunks.length > 0 ? write(chunks) : Promise.resolve()).then(
        () => callback(failure as Error | undefined),
        (err: Error) => callback(err),
      );
    },
  });
}
