import { Transform, type TransformCallback } from 'node:stream';
import type { OutputChunk, StdStream } from '../../util/stdio-streams';

/** Docker's media types for attach/exec/logs bodies. */
export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

const STREAM_IDS: Record<StdStream, number> = { stdout: 1, stderr: 2 };

/** A stdcopy frame header: [stream, 0, 0, 0, size u32 BE]. */
export function frameHeader(stream: StdStream, size: number): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_IDS[stream];
  header.writeUInt32BE(size, 4);
  return header;
}

/** One stdcopy frame: the header, then the payload. */
export function frame(stream: StdStream, data: Buffer): Buffer {
  return Buffer.concat([frameHeader(stream, data.length), data]);
}

/** OutputChunk objects in, bytes out: framed when multiplexed, raw for a TTY. */
export class OutputEncoder extends Transform {
  constructor(private readonly multiplexed: boolean) {
    super({ writableObjectMode: true });
  }

  override _transform(chunk: OutputChunk, _enc: BufferEncoding, done: TransformCallback): void {
    if (chunk.data.length === 0) return done();
    done(null, this.multiplexed ? frame(chunk.stream, chunk.data) : chunk.data);
  }
}

/**
 * Content type for a hijacked or log stream: multiplexed-stream for non-TTY output on API
 * 1.42+ (moby), raw-stream otherwise. Plain (non-upgrade) attach always says raw-stream.
 */
export function streamContentType(tty: boolean, apiVersionAtLeast142: boolean): string {
  return !tty && apiVersionAtLeast142 ? MULTIPLEXED_STREAM : RAW_STREAM;
}
