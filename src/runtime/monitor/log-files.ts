import { promises as fs } from 'node:fs';
import {
  LOG_INDEX_NONCE_OFFSET,
  LOG_INDEX_PAYLOAD_SIZE,
  LOG_INDEX_VERSION,
  LOG_RECORD_HEADER_SIZE,
  LOG_STREAM_INDEX,
  LogIndexKind,
} from './protocol';

/** Size of a whole index record (header + payload). */
export const LOG_INDEX_RECORD_SIZE = LOG_RECORD_HEADER_SIZE + LOG_INDEX_PAYLOAD_SIZE;

/** One file of a (possibly rotated) container log, opened for reading. */
export interface LogFile {
  readonly path: string;
  readonly handle: fs.FileHandle;
  readonly ino: number;
  /** Size when opened: what a non-following read covers. */
  readonly size: number;
  /** The nonce of the file's header record; undefined for a file without one (older monitor). */
  readonly nonce?: Buffer;
  /** Position of the file's first byte in the concatenated log (sum of the earlier sizes). */
  base: number;
}

/** A parsed index record payload (protocol.ts). */
export interface LogIndex {
  kind: number;
  /** Bit 0: stdout is mid-line here; bit 1: stderr is. */
  midLine: number;
  nonce: Buffer;
}

export function parseIndex(payload: Buffer): LogIndex | undefined {
  if (payload.length !== LOG_INDEX_PAYLOAD_SIZE || payload[0] !== LOG_INDEX_VERSION) return undefined;
  const kind = payload[1]! & 0x0f;
  if (kind !== LogIndexKind.HEADER && kind !== LogIndexKind.SYNC && kind !== LogIndexKind.REOPEN) return undefined;
  return { kind, midLine: payload[1]! >> 4, nonce: payload.subarray(LOG_INDEX_NONCE_OFFSET) };
}

/** Checks that `record` (at least LOG_INDEX_RECORD_SIZE bytes) is an index record with `nonce`. */
export function indexRecordAt(record: Buffer, nonce?: Buffer): LogIndex | undefined {
  if (record.length < LOG_INDEX_RECORD_SIZE || record[0] !== LOG_STREAM_INDEX) return undefined;
  if (record.readUInt32BE(9) !== LOG_INDEX_PAYLOAD_SIZE) return undefined;
  const index = parseIndex(record.subarray(LOG_RECORD_HEADER_SIZE, LOG_INDEX_RECORD_SIZE));
  if (!index || (nonce && !index.nonce.equals(nonce))) return undefined;
  return index;
}

async function openOne(file: string): Promise<LogFile | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const stat = await handle.stat();
    const head = Buffer.alloc(LOG_INDEX_RECORD_SIZE);
    const { bytesRead } = stat.size >= head.length ? await handle.read(head, 0, head.length, 0) : { bytesRead: 0 };
    const header = bytesRead === head.length ? indexRecordAt(head) : undefined;
    const nonce = header?.kind === LogIndexKind.HEADER ? Buffer.from(header.nonce) : undefined;
    return { path: file, handle, ino: stat.ino, size: stat.size, nonce, base: 0 };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * After `previous` was rotated away, opens the file written after it: the one just newer
 * in the set (the current file, or `.k` when the writer rotated more than once meanwhile).
 * When `previous` is gone from the set (removed as too old), the oldest file is next.
 */
export async function openSuccessor(path: string, previous: LogFile, base: number): Promise<LogFile | undefined> {
  const newestFirst = (await openLogSet(path)).reverse();
  const at = newestFirst.findIndex((f) => f.ino === previous.ino);
  const next = at === 0 ? undefined : at > 0 ? newestFirst[at - 1] : newestFirst[newestFirst.length - 1];
  await closeLogSet(newestFirst.filter((f) => f !== next));
  if (next) next.base = base;
  return next;
}

/**
 * Opens `path` and its rotated predecessors (`path.1` newest … `path.N` oldest), returned
 * oldest first with their bases set. The current file is opened first: a rotation while
 * opening then shows up as the same inode under two names, which is skipped.
 */
export async function openLogSet(path: string): Promise<LogFile[]> {
  const newestFirst: LogFile[] = [];
  const seen = new Set<number>();
  try {
    for (let i = 0; ; i++) {
      const file = await openOne(i === 0 ? path : `${path}.${i}`);
      if (!file) {
        if (i === 0) continue; // no current file (yet), older ones may still be there
        break;
      }
      if (seen.has(file.ino)) {
        await file.handle.close();
        continue;
      }
      seen.add(file.ino);
      newestFirst.push(file);
    }
  } catch (err) {
    await closeLogSet(newestFirst);
    throw err;
  }
  const files = newestFirst.reverse();
  let base = 0;
  for (const file of files) {
    file.base = base;
    base += file.size;
  }
  return files;
}

export async function closeLogSet(files: LogFile[]): Promise<void> {
  await Promise.all(files.map((f) => f.handle.close().catch(() => undefined)));
}
