import type { LogFile } from './log-files';
import { indexRecordAt, LOG_INDEX_RECORD_SIZE } from './log-files';
import { LOG_INDEX_NONCE_OFFSET, LOG_RECORD_HEADER_SIZE, LOG_RECORD_MAX_DATA, LOG_STREAM_INDEX, LOG_STREAM_STDERR, LOG_STREAM_STDOUT } from './protocol';

const READ_SIZE = 256 * 1024;
/** The backwards search starts small (sync records are close) and doubles up to this. */
const SEARCH_BLOCK_MIN = 4 * 1024;
const SEARCH_BLOCK_MAX = 256 * 1024;

/** One record as read; `offset` is where its header starts in the file. */
export interface LogRecord {
  stream: number;
  time: bigint;
  data: Buffer;
  offset: number;
}

/**
 * Reads whole records forwards from an offset with a bounded buffer (one read plus one torn
 * record). A torn record at the end is kept for the next call, which is how a follower
 * waits for the rest of a record being written.
 */
export class RecordCursor {
  private buffered: Buffer = Buffer.alloc(0);
  /** File offset of buffered[0]. */
  private bufferedAt: number;

  constructor(
    readonly file: LogFile,
    offset: number,
  ) {
    this.bufferedAt = offset;
  }

  /** Offset of the next unread record. */
  get offset(): number {
    return this.bufferedAt;
  }

  /**
   * Reads the records that are complete before `limit` (default: the current end of file),
   * one read at a time. Returns undefined when nothing new is there.
   */
  async next(limit = Infinity): Promise<LogRecord[] | undefined> {
    const readAt = this.bufferedAt + this.buffered.length;
    const wanted = Math.min(READ_SIZE, limit - readAt);
    if (wanted <= 0) return undefined;
    const chunk = Buffer.allocUnsafe(wanted);
    const { bytesRead } = await this.file.handle.read(chunk, 0, wanted, readAt);
    if (bytesRead === 0) return undefined;
    const data = chunk.subarray(0, bytesRead);
    const buffer = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    const records: LogRecord[] = [];
    let at = 0;
    while (buffer.length - at >= LOG_RECORD_HEADER_SIZE) {
      const stream = buffer[at]!;
      const length = buffer.readUInt32BE(at + 9);
      if ((stream !== LOG_STREAM_STDOUT && stream !== LOG_STREAM_STDERR && stream !== LOG_STREAM_INDEX) || length > LOG_RECORD_MAX_DATA) {
        throw new Error(`corrupt log record at offset ${this.bufferedAt + at} of ${this.file.path}: stream ${stream}, length ${length}`);
      }
      const end = at + LOG_RECORD_HEADER_SIZE + length;
      if (buffer.length < end) break;
      records.push({ stream, time: buffer.readBigUInt64BE(at + 1), data: buffer.subarray(at + LOG_RECORD_HEADER_SIZE, end), offset: this.bufferedAt + at });
      at = end;
    }
    // Copy the torn rest: the records above keep views of `buffer`.
    this.buffered = at === buffer.length ? Buffer.alloc(0) : Buffer.from(buffer.subarray(at));
    this.bufferedAt += at;
    return records;
  }
}

/** Where an index record sits and what it says. */
export interface IndexPoint {
  offset: number;
  midLine: number;
  kind: number;
  /** The index record's time: every record before it is older (the monitor's clock permitting). */
  time: bigint;
}

/**
 * The last index record of an indexed file that starts before `before`, found by searching
 * backwards for the file's nonce. Offset 0 (the header) always qualifies.
 */
export async function findIndexBefore(file: LogFile, before: number): Promise<IndexPoint> {
  const nonce = file.nonce;
  if (!nonce) throw new Error(`log file ${file.path} has no index`);
  const nonceAt = LOG_RECORD_HEADER_SIZE + LOG_INDEX_NONCE_OFFSET;
  let hi = before;
  let blockSize = SEARCH_BLOCK_MIN;
  while (hi > 0) {
    const lo = Math.max(0, hi - blockSize);
    blockSize = Math.min(blockSize * 2, SEARCH_BLOCK_MAX);
    // A record starting below hi ends at most LOG_INDEX_RECORD_SIZE bytes later.
    const length = Math.min(hi + LOG_INDEX_RECORD_SIZE, file.size) - lo;
    const block = Buffer.allocUnsafe(length);
    const { bytesRead } = await file.handle.read(block, 0, length, lo);
    const view = block.subarray(0, bytesRead);
    let from = view.length - nonce.length;
    while (from >= 0) {
      const found = view.lastIndexOf(nonce, from);
      if (found < 0) break;
      const start = found - nonceAt;
      if (start >= 0 && lo + start < hi) {
        const index = indexRecordAt(view.subarray(start, start + LOG_INDEX_RECORD_SIZE), nonce);
        if (index) return { offset: lo + start, midLine: index.midLine, kind: index.kind, time: view.readBigUInt64BE(start + 1) };
      }
      from = found - 1;
    }
    hi = lo;
  }
  const head = Buffer.alloc(LOG_INDEX_RECORD_SIZE);
  await file.handle.read(head, 0, head.length, 0);
  const index = indexRecordAt(head, nonce);
  return { offset: 0, midLine: index?.midLine ?? 0, kind: index?.kind ?? 0, time: index ? head.readBigUInt64BE(1) : 0n };
}
