/**
 * Docker's multiplexed stream format (stdcopy): non-TTY attach, exec and logs send frames of
 * an 8-byte header [stream, 0, 0, 0, size(4, big endian)] followed by `size` bytes.
 * Stream 0 is stdin, 1 stdout, 2 stderr, 3 "systemerr" (an error from the daemon).
 */

export type FrameStream = 'stdin' | 'stdout' | 'stderr' | 'systemerr';
const STREAMS: FrameStream[] = ['stdin', 'stdout', 'stderr', 'systemerr'];
const HEADER = 8;

export interface Frame {
  stream: FrameStream;
  data: Buffer;
}

/** Incremental demuxer: push chunks as they arrive, get whole frames back. */
export class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER) {
      const type = this.pending[0]!;
      const size = this.pending.readUInt32BE(4);
      if (type > 3) throw new Error(`unrecognized input header: ${type}`);
      if (this.pending.length < HEADER + size) break;
      frames.push({ stream: STREAMS[type]!, data: this.pending.subarray(HEADER, HEADER + size) });
      this.pending = this.pending.subarray(HEADER + size);
    }
    return frames;
  }

  /** Bytes of an unfinished frame left at the end of the stream. */
  get leftover(): number {
    return this.pending.length;
  }
}

export async function* demuxFrames(source: AsyncIterable<Buffer | string>): AsyncGenerator<Frame> {
  const demuxer = new FrameDemuxer();
  for await (const chunk of source) {
    yield* demuxer.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
}

/** Encodes one frame (used by tests and fakes). */
export function encodeFrame(stream: FrameStream, data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const header = Buffer.alloc(HEADER);
  header[0] = STREAMS.indexOf(stream);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

export interface DemuxTargets {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Copies a multiplexed stream to two writables; a systemerr frame becomes an error. */
export async function demuxTo(source: AsyncIterable<Buffer | string>, out: DemuxTargets): Promise<void> {
  for await (const frame of demuxFrames(source)) {
    if (frame.stream === 'systemerr') throw new Error(frame.data.toString('utf8'));
    const target = frame.stream === 'stderr' ? out.stderr : out.stdout;
    if (!target.write(frame.data)) await new Promise<void>((resolve) => target.once('drain', () => resolve()));
  }
}
