/**
 * Wire protocol between the daemon and berth-monitor (native/monitor/monitor.c), one
 * monitor process per container (or per exec). The monitor listens on a unix stream
 * socket; every client connection is framed both ways as
 *   [type: u8][length: u32 big-endian][payload: length bytes].
 * Monitor → client frames: HELLO first on every connection (payload: Hello JSON; a client
 * refuses a version it does not know), then STDOUT, STDERR (output from the moment the client connected),
 * STARTED (payload: the process pid in decimal), EXITED (payload: the exit-status JSON,
 * see ExitStatus), ERROR (payload: a message; the runtime failed before the process ran).
 * Client → monitor frames: STDIN (data for the process's stdin), STDIN_CLOSE,
 * RESIZE (payload: "<rows> <cols>" in ASCII), START (launch the runtime; only the first
 * START counts, and only when the monitor was started with --wait-start).
 */
export const FrameType = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  STDIN_CLOSE: 3,
  RESIZE: 4,
  START: 5,
  STARTED: 16,
  EXITED: 17,
  ERROR: 18,
  HELLO: 19,
} as const;

/**
 * The protocol version this daemon speaks (PROTOCOL_VERSION in monitor.c). Bump both on any
 * incompatible change of frames, exit status or log records; the monitor also reports it
 * after "ready" on its sync pipe, so a stale build is caught before any container runs.
 */
export const MONITOR_PROTOCOL_VERSION = 1;

/** HELLO's payload. */
export interface Hello {
  version: number;
  /** The monitor's own pid. */
  monitorPid: number;
  /** The process's pid, once it runs. */
  pid?: number;
}
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

export const FRAME_HEADER_SIZE = 5;

/** What the monitor writes to --exit-file (atomically) and sends in EXITED. */
export interface ExitStatus {
  exitCode: number;
  /** Set when the process was killed by a signal (exitCode is then 128 + signal). */
  signal?: number;
  /** RFC 3339 with nanoseconds, UTC. */
  finishedAt: string;
  /** Set when the runtime failed before the process ran. */
  error?: string;
  /** Set when the kernel's OOM killer killed a process of the container's memory cgroup. */
  oomKilled?: boolean;
}

export function encodeFrame(type: FrameTypeValue, payload: Uint8Array | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + body.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, FRAME_HEADER_SIZE);
  return frame;
}

/** Incremental frame decoder: push chunks, get whole frames. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Array<{ type: number; payload: Buffer }> {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Array<{ type: number; payload: Buffer }> = [];
    while (this.buffered.length >= FRAME_HEADER_SIZE) {
      const length = this.buffered.readUInt32BE(1);
      if (this.buffered.length < FRAME_HEADER_SIZE + length) break;
      frames.push({
        type: this.buffered[0]!,
        payload: this.buffered.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + length),
      });
      this.buffered = this.buffered.subarray(FRAME_HEADER_SIZE + length);
    }
    return frames;
  }
}

/**
 * Container log file written by the monitor (--log): a sequence of records
 *   [stream: u8][time: u64 BE, ns since epoch][length: u32 BE][data: length bytes].
 * Stream 1 is stdout and 2 stderr: raw chunks as read (at most 32 KiB), not lines; readers
 * split lines. Stream 3 is an index record (readers that only know 1 and 2 skip it), with an
 * 18-byte payload
 *   [version: u8 = 1][kind: low 4 bits | mid-line flags: high 4 bits][nonce: 16 bytes].
 * Kinds: 0 header (the first record of every file the monitor creates, including each new
 * file after a rotation), 1 sync (written before a data record once 64 KiB were written
 * since the last index record), 2 reopen (a new monitor appends to an existing file: lines
 * left unfinished before it end there). Flag bit 0 (value 16) says stdout's last byte so far
 * was not a newline, bit 1 (value 32) the same for stderr. The nonce is random per log and
 * never visible to the container, so an index record cannot be forged inside output:
 * readers seek back from the end by searching for it. A file without a header at offset 0
 * (written by an older monitor) has no index records and is read forwards only.
 * Rotation (--log-max-size/--log-max-files, Docker's max-size/max-file): the current file is
 * always LOG; once it reaches max-size, LOG.(k) is renamed LOG.(k+1), LOG becomes LOG.1 and a
 * fresh LOG starts, so at most max-files files exist (max-files 1: LOG is truncated in place).
 * The record format is the same in every file; a file starts at a record boundary (with a
 * header). Readers read LOG.N (oldest) … LOG.1, then LOG.
 */
export const LOG_RECORD_HEADER_SIZE = 13;
export const LOG_STREAM_STDOUT = 1;
export const LOG_STREAM_STDERR = 2;
export const LOG_STREAM_INDEX = 3;
export const LOG_INDEX_VERSION = 1;
export const LOG_INDEX_PAYLOAD_SIZE = 18;
export const LOG_INDEX_NONCE_OFFSET = 2;
export const LogIndexKind = { HEADER: 0, SYNC: 1, REOPEN: 2 } as const;
/** Sanity bound on one record's data: the monitor writes at most 32 KiB. */
export const LOG_RECORD_MAX_DATA = 1 << 20;
