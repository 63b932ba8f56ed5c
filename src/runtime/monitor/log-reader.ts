import { promises as fs, watch, FSWatcher } from 'node:fs';
import { LOG_RECORD_HEADER_SIZE } from './protocol';

/** One line of container output as read back from a monitor log. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** When the line's first byte was read by the monitor (millisecond precision). */
  time: Date;
  /** The same instant in nanoseconds since the epoch. */
  timeNanos: bigint;
  /** The line, including its trailing \n when it has one. */
  line: Buffer;
}

export interface ReadLogOptions {
  /** Keep reading appended records until `signal` aborts or `isDone()` is true and the file is drained. */
  follow?: boolean;
  /** Only lines at or after this time (unix seconds, may be fractional). */
  since?: number;
  /** Only lines at or before this time (unix seconds, may be fractional). */
  until?: number;
  /** Only the last N matching lines of what is already written (then follow continues). */
  tail?: number | 'all';
  signal?: AbortSignal;
  /** Whether the writer is finished (e.g. the exit file exists). */
  isDone?: () => boolean;
  /** Follow polling interval; fs.watch wakes the reader earlier. */
  pollIntervalMs?: number;
}

const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;
const CHUNK_SIZE = 64 * 1024;

/** Go's RFC3339Nano in UTC (trailing zeros trimmed), as in Docker's inspect output. */
export function formatRfc3339Nano(ns: bigint): string {
  const fraction = formatRfc3339NanoFixed(ns);
  return fraction.replace(/\.?0+Z$/, 'Z');
}

/** RFC 3339 with exactly nine fraction digits in UTC, as `docker logs --timestamps` prints. */
export function formatRfc3339NanoFixed(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const nanos = ns % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}.${nanos.toString().padStart(9, '0')}Z`;
}

function secondsToNanos(seconds: number): bigint {
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((seconds - whole) * 1e9));
}

/** Splits raw chunks into lines per stream; a line's time is that of the chunk where it starts. */
class LineSplitter {
  private readonly partial = new Map<number, { time: bigint; parts: Buffer[] }>();

  push(stream: number, time: bigint, data: Buffer, out: LogLine[]): void {
    let start = 0;
    while (start < data.length) {
      const newline = data.indexOf(0x0a, start);
      const end = newline < 0 ? data.length : newline + 1;
      const piece = data.subarray(start, end);
      const pending = this.partial.get(stream);
      if (pending) {
        pending.parts.push(piece);
      } else {
        this.partial.set(stream, { time, parts: [piece] });
      }
      if (newline >= 0) this.emit(stream, out);
      start = end;
    }
  }

  /** Emits unfinished lines (at the end of what is written so far). */
  flush(out: LogLine[]): void {
    for (const stream of [...this.partial.keys()]) this.emit(stream, out);
  }

  private emit(stream: number, out: LogLine[]): void {
    const pending = this.partial.get(stream);
    if (!pending) return;
    this.partial.delete(stream);
    out.push({
      stream: STREAMS[stream as 1 | 2],
      time: new Date(Number(pending.time / 1_000_000n)),
      timeNanos: pending.time,
      line: pending.parts.length === 1 ? Buffer.from(pending.parts[0]!) : Buffer.concat(pending.parts),
    });
  }
}

/** Reads whole records from a file position onwards; keeps a torn record for the next call. */
class RecordReader {
  private position = 0;
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly file: fs.FileHandle) {}

  /** Reads to the current end of file; returns false when nothing new was there. */
  async readAvailable(onRecord: (stream: number, time: bigint, data: Buffer) => void): Promise<boolean> {
    let progressed = false;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_SIZE);
      const { bytesRead } = await this.file.read(chunk, 0, CHUNK_SIZE, this.position);
      if (bytesRead === 0) return progressed;
      progressed = true;
      this.position += bytesRead;
      const data = chunk.subarray(0, bytesRead);
      this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
      let offset = 0;
      while (this.buffered.length - offset >= LOG_RECORD_HEADER_SIZE) {
        const length = this.buffered.readUInt32BE(offset + 9);
        const end = offset + LOG_RECORD_HEADER_SIZE + length;
        if (this.buffered.length < end) break;
        onRecord(
          this.buffered[offset]!,
          this.buffered.readBigUInt64BE(offset + 1),
          this.buffered.subarray(offset + LOG_RECORD_HEADER_SIZE, end),
        );
        offset = end;
      }
      this.buffered = Buffer.from(this.buffered.subarray(offset));
    }
  }
}

function waitForChange(file: string, intervalMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const finish = () => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, intervalMs);
    try {
      watcher = watch(file, { persistent: false }, finish);
      watcher.on('error', () => undefined);
    } catch {
      // fs.watch is an optimisation only; polling still works.
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

/**
 * Reads a monitor log (protocol.ts record format) as lines. A missing file reads as empty
 * (a container that never ran); with `follow` the reader waits for it to appear.
 */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncIterable<LogLine> {
  const since = opts.since !== undefined && opts.since > 0 ? secondsToNanos(opts.since) : undefined;
  const until = opts.until !== undefined && opts.until > 0 ? secondsToNanos(opts.until) : undefined;
  const tail = opts.tail === undefined || opts.tail === 'all' || opts.tail < 0 ? undefined : opts.tail;
  const pollIntervalMs = opts.pollIntervalMs ?? 200;
  const wanted = (line: LogLine) =>
    (since === undefined || line.timeNanos >= since) && (until === undefined || line.timeNanos <= until);

  let file: fs.FileHandle | undefined;
  while (!file) {
    try {
      file = await fs.open(path, 'r');
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!opts.follow || opts.signal?.aborted || opts.isDone?.()) return;
      await waitForChange(path, pollIntervalMs, opts.signal);
      if (opts.signal?.aborted) return;
    }
  }
  try {
    const splitter = new LineSplitter();
    const reader = new RecordReader(file);
    let lines: LogLine[] = [];
    const onRecord = (stream: number, time: bigint, data: Buffer) => {
      if (stream === 1 || stream === 2) splitter.push(stream, time, data, lines);
    };

    // What is written already: honour tail over it.
    await reader.readAvailable(onRecord);
    splitter.flush(lines);
    let backlog = lines.filter(wanted);
    if (tail !== undefined) backlog = tail === 0 ? [] : backlog.slice(-tail);
    lines = [];
    yield* backlog;
    backlog = [];
    if (!opts.follow) return;

    for (;;) {
      if (opts.signal?.aborted) return;
      const done = opts.isDone?.() ?? false;
      const progressed = await reader.readAvailable(onRecord);
      splitter.flush(lines);
      const batch = lines;
      lines = [];
      for (const line of batch) {
        if (until !== undefined && line.timeNanos > until) return;
        if (wanted(line)) yield line;
      }
      // Stop once the writer is done and a read after that found nothing new.
      if (done && !progressed) return;
      if (until !== undefined && secondsToNanos(Date.now() / 1000) > until) return;
      if (!progressed) await waitForChange(path, pollIntervalMs, opts.signal);
    }
  } finally {
    await file.close();
  }
}
