import type { LogFile } from './log-files';
import { parseIndex } from './log-files';
import { findIndexBefore, RecordCursor } from './log-records';
import { LOG_RECORD_HEADER_SIZE, LOG_STREAM_INDEX, LogIndexKind } from './protocol';

/**
 * Finding where `--tail N` starts without reading the whole log. Positions are global: a
 * file's base plus an offset in it. The log is cut into segments at index records
 * (protocol.ts); each segment is parsed forwards on its own, since its opening index record
 * says which streams are in the middle of a line there. Segments are visited from the end
 * until N line ends are found, so the cost depends on N, not on the log's size. A file
 * without an index (older monitor) is one segment.
 *
 * A line ends at a newline of its stream, or where it is cut off unfinished: at the end of
 * what is written (what a reader flushes) and at a reopen record. Lines are ordered by
 * where they end, as the reader emits them.
 */

interface Segment {
  file: LogFile;
  fileIndex: number;
  start: number;
  end: number;
  /** Streams mid-line at `start` (bit 0 stdout, bit 1 stderr). */
  midLine: number;
  /** Whether unfinished lines end at `end` (end of the log, or a reopen record there). */
  endFlush: boolean;
}

/** Where a reader starts: a record boundary, and per stream the first byte it keeps. */
export interface TailPlan {
  fileIndex: number;
  offset: number;
  /** Global positions, [stdout, stderr]: bytes of a stream before its start are skipped. */
  starts: [number, number];
  /** Streams (bit 0 stdout, bit 1 stderr) whose bytes up to their first newline are skipped: the rest of a line begun before. */
  skipPartial?: number;
}

async function* segmentsBackward(files: LogFile[]): AsyncGenerator<Segment> {
  for (let fileIndex = files.length - 1; fileIndex >= 0; fileIndex--) {
    const file = files[fileIndex]!;
    let endFlush = fileIndex === files.length - 1;
    if (!file.nonce) {
      yield { file, fileIndex, start: 0, end: file.size, midLine: 0, endFlush };
      continue;
    }
    let end = file.size;
    for (;;) {
      const point = await findIndexBefore(file, end);
      yield { file, fileIndex, start: point.offset, end, midLine: point.midLine, endFlush };
      if (point.offset === 0) break;
      endFlush = point.kind === LogIndexKind.REOPEN;
      end = point.offset;
    }
  }
}

type LineEnd = (stream: 1 | 2, startAfter: number) => void;

/** Parses one segment forwards, reporting each line end and where the stream's next line starts. */
async function scanLineEnds(segment: Segment, onEnd: LineEnd): Promise<void> {
  const { file } = segment;
  const cursor = new RecordCursor(file, segment.start);
  let midLine = segment.midLine;
  const flush = (at: number) => {
    if (midLine & 1) onEnd(1, at);
    if (midLine & 2) onEnd(2, at);
    midLine = 0;
  };
  for (;;) {
    const records = await cursor.next(segment.end);
    if (!records) break;
    for (const record of records) {
      const at = file.base + record.offset;
      if (record.stream === LOG_STREAM_INDEX) {
        if (record.offset !== segment.start && parseIndex(record.data)?.kind === LogIndexKind.REOPEN) flush(at);
        continue;
      }
      const stream = record.stream as 1 | 2;
      const dataAt = at + LOG_RECORD_HEADER_SIZE;
      const { data } = record;
      for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) onEnd(stream, dataAt + i + 1);
      if (data.length > 0) {
        if (data[data.length - 1] === 0x0a) midLine &= ~stream;
        else midLine |= stream;
      }
    }
  }
  if (segment.endFlush) flush(file.base + segment.end);
}

/** Plans a read of the last `lines` lines; undefined means from the very beginning. */
export async function planTail(files: LogFile[], lines: number): Promise<TailPlan | undefined> {
  if (files.length === 0) return undefined;
  if (lines <= 0) {
    const last = files[files.length - 1]!;
    const end = last.base + last.size;
    return { fileIndex: files.length - 1, offset: last.size, starts: [end, end] };
  }
  const segments = segmentsBackward(files);
  try {
    // Find the segment holding the Nth line end from the end.
    let counted = 0;
    let cutoff: Segment | undefined;
    let skip = 0;
    for (;;) {
      const next = await segments.next();
      if (next.done) return undefined;
      let ends = 0;
      await scanLineEnds(next.value, () => void ends++);
      if (counted + ends >= lines) {
        cutoff = next.value;
        skip = counted + ends - lines;
        break;
      }
      counted += ends;
    }

    // Each stream starts after its last line end before the cutoff line end.
    const starts: Array<number | undefined> = [undefined, undefined];
    let seen = 0;
    await scanLineEnds(cutoff, (stream, startAfter) => {
      if (seen++ < skip) starts[stream - 1] = startAfter;
    });
    let begin = cutoff;
    const resolveAtStart = (segment: Segment) => {
      for (const stream of [1, 2] as const) {
        if (starts[stream - 1] === undefined && !(segment.midLine & stream)) starts[stream - 1] = segment.file.base + segment.start;
      }
    };
    resolveAtStart(cutoff);
    // A stream mid-line there: its line began in an earlier segment.
    while (starts[0] === undefined || starts[1] === undefined) {
      const next = await segments.next();
      if (next.done) {
        return { fileIndex: 0, offset: 0, starts: [starts[0] ?? 0, starts[1] ?? 0] };
      }
      begin = next.value;
      const found: Array<number | undefined> = [undefined, undefined];
      await scanLineEnds(begin, (stream, startAfter) => {
        if (starts[stream - 1] === undefined) found[stream - 1] = startAfter;
      });
      for (const stream of [0, 1]) if (found[stream] !== undefined) starts[stream] = found[stream];
      resolveAtStart(begin);
    }
    return { fileIndex: begin.fileIndex, offset: begin.start, starts: [starts[0], starts[1]] };
  } finally {
    await segments.return(undefined);
  }
}

/**
 * Plans a read of the lines from `since` on without reading what is older: the last index
 * point written before `since` is found by bisecting the newest file that started before
 * it. Lines begun before that point are older than `since` and skipped. Undefined means from
 * the beginning (no such point, or a file without an index).
 */
export async function planSince(files: LogFile[], since: bigint): Promise<TailPlan | undefined> {
  for (let fileIndex = files.length - 1; fileIndex >= 0; fileIndex--) {
    const file = files[fileIndex]!;
    if (!file.nonce) return undefined;
    let best = await findIndexBefore(file, 1);
    if (best.time >= since) continue; // the whole file is newer: look at the one before
    // Bisect over offsets: `best` is an index point older than `since`; every index point at
    // or above `hi` is not.
    let hi = file.size;
    for (;;) {
      const mid = Math.floor((best.offset + hi) / 2);
      const point = await findIndexBefore(file, mid + 1);
      if (point.offset > best.offset) {
        if (point.time < since) best = point;
        else hi = point.offset;
        continue;
      }
      // Nothing in (best, mid]: the last point below hi decides.
      const last = await findIndexBefore(file, hi);
      if (last.offset <= best.offset) break;
      if (last.time < since) best = last;
      else hi = last.offset;
    }
    const at = file.base + best.offset;
    return { fileIndex, offset: best.offset, starts: [at, at], skipPartial: best.midLine };
  }
  return undefined;
}
