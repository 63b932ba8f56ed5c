import { Readable } from 'node:stream';

/** The event-emitter surface shared by Node and streamx (tar-stream) readables. */
export interface ByteSource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(err?: Error): unknown;
}

/**
 * A Node Readable over a byte source that is created on the first read. Producers that
 * start eagerly can fail before anyone listens (an uncaught 'error'); opening lazily means
 * errors surface only to a consumer that is already reading.
 */
export function lazyReadable(open: () => ByteSource): Readable {
  let source: ByteSource | undefined;
  const out = new Readable({
    read() {
      if (source) {
        source.resume();
        return;
      }
      const s = open();
      source = s;
      s.on('data', (chunk) => {
        if (!out.push(chunk)) s.pause();
      });
      s.on('end', () => out.push(null));
      s.on('error', (err) => out.destroy(err));
    },
    destroy(err, callback) {
      source?.destroy(err ?? undefined);
      callback(err);
    },
  });
  return out;
}
