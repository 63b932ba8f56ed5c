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
 *   [stream: u8 (1 stdout, 2 stderr)][time: u64 BE, ns since epoch][length: u32 BE][data].
 * Records hold raw chunks as read, not lines; readers split lines.
 * Rotation (--log-max-size/--log-max-files, Docker's max-size/max-file): the current file is
 * always LOG; once it reaches max-size, LOG.(k) is renamed LOG.(k+1), LOG becomes LOG.1 and a
 * fresh LOG starts, so at most max-files files exist (max-files 1: LOG is truncated in place).
 * The record format is the same in every file; a file starts at a record boundary.
 */
export const LOG_RECORD_HEADER_SIZE = 13;
