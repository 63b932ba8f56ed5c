import { promises as fs, watch, FSWatcher } from 'node:fs';
import { closeLogSet, LogFile, openLogSet, openSuccessor, parseIndex } from './log-files';
import { LogRecord, RecordCursor } from './log-records';
import { planSince, planTail } from './log-tail';
import { LOG_RECORD_HEADER_SIZE, LOG_STREAM_INDEX, LogIndexKind } from './protocol';

/** One line of container output as read back from a monitor log. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** When the line's first byte was read by the monitor, in nanoseconds since the epoch. */
  timeNanos: bigint;
  /** The line (or a piece of a long one), including its trailing \n when it has one. */
  line: Buffer;
  /** This piece continues a line whose earlier bytes came before: print no timestamp before it. */
  continued: boolean;
}

export interface ReadLogOptions {
  /** Keep reading appended records until `signal` aborts or `isDone()` is true and the file is drained. */
  follow?: boolean;
  /** Only lines at or after this time (unix seconds, may be fractional). */
  since?: number;
  /** Only lines at or before this time (unix seconds, may be fractional). */
  until?: number;
  /** Only the last N lines of what is already written, before since/until (then follow continues). */
  tail?: number | 'all';
  signal?: AbortSignal;
  /** Whether the writer is finished (e.g. the exit file exists). */
  isDone?: () => boolean;
  /** Follow polling interval; fs.watch wakes the reader earlier. */
  pollIntervalMs?: number;
}

const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;
/** A line longer than this is handed out in pieces, so memory stays bounded. */
export const MAX_LOG_PIECE = 64 * 1024;

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

interface PendingLine {
  time: bigint;
  parts: Buffer[];
  length: number;
  /** Earlier pieces of this line were handed out already. */
  continued: boolean;
}

/**
 * Splits raw chunks into lines per stream; a line's time is that of the chunk where it
 * starts. Bytes of a stream before its start position (log-tail.ts) are skipped.
 */
class LineSplitter {
  private readonly pending: Array<PendingLine | undefined> = [undefined, undefined];

  /** Per stream: skip bytes up to the first newline (the end of a line begun before the read). */
  private skipping: boolean[];

  constructor(
    private readonly starts: [number, number],
    skipPartial = 0,
  ) {
    this.skipping = [(skipPartial & 1) !== 0, (skipPartial & 2) !== 0];
  }

  push(stream: 1 | 2, time: bigint, data: Buffer, dataAt: number, out: LogLine[]): void {
    const slot = stream - 1;
    let start = 0;
    while (start < data.length) {
      const newline = data.indexOf(0x0a, start);
      const end = newline < 0 ? data.length : newline + 1;
      if (this.skipping[slot]) {
        if (newline >= 0) this.skipping[slot] = false;
        start = end;
        continue;
      }
      let pending = this.pending[slot];
      if (!pending) {
        if (dataAt + start < this.starts[slot]) {
          start = end;
          continue;
        }
        if (newline >= 0) {
          // The common case: a whole line inside one record.
          out.push({ stream: STREAMS[stream], timeNanos: time, line: data.subarray(start, end), continued: false });
          start = end;
          continue;
        }
        pending = this.pending[slot] = { time, parts: [], length: 0, continued: false };
      }
      pending.parts.push(data.subarray(start, end));
      pending.length += end - start;
      if (newline >= 0) this.emit(slot, out, true);
      else if (pending.length >= MAX_LOG_PIECE) this.emit(slot, out, false);
      start = end;
    }
  }

  /** Ends unfinished lines (at the end of what is written so far, or at a reopen record). */
  flush(out: LogLine[]): void {
    this.skipping = [false, false];
    for (const slot of [0, 1]) {
      if (this.pending[slot]?.length) this.emit(slot, out, true);
      this.pending[slot] = undefined;
    }
  }

  private emit(slot: number, out: LogLine[], ends: boolean): void {
    const pending = this.pending[slot]!;
    out.push({
      stream: STREAMS[(slot + 1) as 1 | 2],
      timeNanos: pending.time,
      // A single part stays a view of the read buffer (lines are handed on, not kept).
      line: pending.parts.length === 1 ? pending.parts[0]! : Buffer.concat(pending.parts, pending.length),
      continued: pending.continued,
    });
    if (ends) {
      this.pending[slot] = undefined;
    } else {
      pending.parts = [];
      pending.length = 0;
      pending.continued = true;
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

/** Whether `path` now names a different file than `file` (the writer rotated it). */
async function rotatedAway(path: string, file: LogFile): Promise<boolean> {
  try {
    return (await fs.stat(path)).ino !== file.ino;
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/**
 * Reads a container log (protocol.ts record format, with its rotated files, oldest first) as
 * lines, holding at most one read buffer and one piece of a line in memory: the caller pulls,
 * so a slow consumer slows the reading. A missing log reads as empty (a container that never
 * ran); with `follow` the reader waits for it to appear, and follows it across rotations.
 * As in Docker, `tail` picks the last lines first and `since`/`until` filter those; reading
 * stops at the first record after `until`.
 */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncIterable<LogLine> {
  for await (const batch of readLogBatches(path, opts)) yield* batch;
}

/** readLog in batches (the lines of one read), which costs far less per line. */
export async function* readLogBatches(path: string, opts: ReadLogOptions = {}): AsyncIterable<LogLine[]> {
  const since = opts.since !== undefined && opts.since > 0 ? secondsToNanos(opts.since) : undefined;
  const until = opts.until !== undefined && opts.until > 0 ? secondsToNanos(opts.until) : undefined;
  const tail = opts.tail === undefined || opts.tail === 'all' || opts.tail < 0 ? undefined : opts.tail;
  const pollIntervalMs = opts.pollIntervalMs ?? 200;
  const stopped = () => opts.signal?.aborted ?? false;

  let files = await openLogSet(path);
  try {
    while (files.length === 0) {
      if (!opts.follow || stopped() || opts.isDone?.()) return;
      await waitForChange(path, pollIntervalMs, opts.signal);
      if (stopped()) return;
      files = await openLogSet(path);
    }
    // Tail picks lines first (then since filters them); since alone skips what is older.
    const plan = tail !== undefined ? await planTail(files, tail) : since !== undefined ? await planSince(files, since) : undefined;
    const splitter = new LineSplitter(plan?.starts ?? [0, 0], plan?.skipPartial);
    let lines: LogLine[] = [];
    let pastUntil = false;
    const take = (records: LogRecord[], base: number) => {
      for (const record of records) {
        if (record.stream === LOG_STREAM_INDEX) {
          if (parseIndex(record.data)?.kind === LogIndexKind.REOPEN) splitter.flush(lines);
          continue;
        }
        if (until !== undefined && record.time > until) {
          pastUntil = true;
          return;
        }
        splitter.push(record.stream as 1 | 2, record.time, record.data, base + record.offset + LOG_RECORD_HEADER_SIZE, lines);
      }
    };
    function* hand(): Generator<LogLine[]> {
      if (lines.length === 0) return;
      const batch = since === undefined ? lines : lines.filter((line) => line.timeNanos >= since);
      lines = [];
      if (batch.length > 0) yield batch;
    }

    // What is written already: every file up to its size when opened.
    const first = plan?.fileIndex ?? 0;
    let cursor: RecordCursor | undefined;
    for (let i = first; i < files.length && !pastUntil; i++) {
      const file = files[i]!;
      cursor = new RecordCursor(file, i === first ? (plan?.offset ?? 0) : 0);
      for (;;) {
        if (stopped()) return;
        const records = await cursor.next(file.size);
        if (!records) break;
        take(records, file.base);
        if (pastUntil) break;
        yield* hand();
      }
    }
    splitter.flush(lines);
    yield* hand();
    if (!opts.follow || pastUntil) return;

    // Follow the current file, and the next one when the writer rotates it away.
    let current = cursor!;
    const drain = async function* (): AsyncGenerator<LogLine[], boolean> {
      let progressed = false;
      for (;;) {
        const records = await current.next();
        if (!records) return progressed;
        progressed = true;
        take(records, current.file.base);
        if (pastUntil) return progressed;
        yield* hand();
      }
    };
    for (;;) {
      if (stopped()) return;
      const done = opts.isDone?.() ?? false;
      let progressed = yield* drain();
      const rotated = !pastUntil && (current.file.path !== path || (await rotatedAway(path, current.file)));
      // What was written to the old file between the read above and the rename.
      if (rotated) progressed = (yield* drain()) || progressed;
      if (pastUntil || !rotated) {
        splitter.flush(lines);
        yield* hand();
      }
      if (pastUntil) return;
      if (rotated) {
        const next = await openSuccessor(path, current.file, current.file.base + current.offset + 1);
        if (next) {
          const old = current.file;
          files = [...files.filter((f) => f !== old), next];
          await old.handle.close();
          current = new RecordCursor(next, 0);
          continue;
        }
      }
      if (!progressed && (await current.file.handle.stat()).size < current.offset) {
        // Truncated in place (max-file 1): start over at its beginning, as later positions.
        current.file.base += current.offset + 1;
        current = new RecordCursor(current.file, 0);
        continue;
      }
      // Stop once the writer is done and a read after that found nothing new.
      if (done && !progressed) {
        splitter.flush(lines);
        yield* hand();
        return;
      }
      if (until !== undefined && secondsToNanos(Date.now() / 1000) > until) return;
      if (!progressed) await waitForChange(path, pollIntervalMs, opts.signal);
    }
  } finally {
    await closeLogSet(files);
  }
}
