import type { Readable, Writable } from 'node:stream';

/**
 * Stream shapes the engine hands to the API layer, free of HTTP (here, below both, so neither
 * imports the other for them): the API layer decides
 * between raw (TTY) and multiplexed 8-byte-frame encodings.
 */
export type StdStream = 'stdout' | 'stderr';

export interface OutputChunk {
  stream: StdStream;
  data: Buffer;
}

/**
 * A live attachment to a container's or exec's stdio.
 * `output` is an object-mode Readable of OutputChunk; it ends when the process has exited
 * and its output is drained (or after close()). `stdin` exists when stdin was requested
 * and the process has an open stdin; ending it closes the process's stdin.
 */
export interface AttachSession {
  readonly tty: boolean;
  readonly output: Readable;
  readonly stdin?: Writable;
  /** Detach without affecting the process. Idempotent. */
  close(): void;
}

/** One log line; `time` is RFC 3339 with nanoseconds (Docker's --timestamps form). */
export interface LogLine {
  stream: StdStream;
  time: string;
  line: Buffer;
  /** A later piece of a long line (handed out in pieces): no timestamp goes before it. */
  continued?: boolean;
}

export interface LogSession {
  readonly tty: boolean;
  /**
   * Lines in batches (what one read of the log gave), pulled by the consumer: a slow one
   * slows the reading. Ends when the log is read (or, with follow, when the container stops
   * / the client aborts).
   */
  readonly batches: AsyncIterable<LogLine[]>;
}
