import { PassThrough, Writable } from 'node:stream';
import type { MonitorConnection } from '../../runtime/monitor/client';
import type { AttachSession, OutputChunk } from '../streams';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Close the process's stdin when this client's stdin ends (Docker's StdinOnce). */
  closeStdinOnEnd: boolean;
  /** Detach sequence (bytes) recognised in stdin, e.g. Ctrl-P Ctrl-Q. */
  detachKeys?: Buffer;
}

/**
 * An AttachSession over a monitor connection that may not exist yet: attaching to a
 * created container happens before start, and start hands the connection over once the
 * monitor listens (before the process runs, so no output is lost).
 */
export class MonitorAttachSession implements AttachSession {
  readonly output = new PassThrough({ objectMode: true });
  readonly stdin?: Writable;
  private connection?: MonitorConnection;
  private pendingStdin: Array<Buffer | null> = [];
  private closed = false;
  private detachMatched = 0;

  constructor(
    readonly tty: boolean,
    private readonly options: AttachOptions,
  ) {
    if (options.stdin) {
      this.stdin = new Writable({
        write: (chunk: Buffer, _encoding, callback) => {
          this.forwardStdin(chunk);
          callback();
        },
        final: (callback) => {
          if (this.options.closeStdinOnEnd) this.sendStdin(null);
          callback();
        },
      });
    }
  }

  /** Binds the monitor connection; buffered stdin is flushed to it. */
  bind(connection: MonitorConnection): void {
    if (this.closed) {
      connection.close();
      return;
    }
    this.connection = connection;
    const push = (chunk: OutputChunk) => {
      if (!this.output.writableEnded) this.output.write(chunk);
    };
    if (this.options.stdout) connection.on('stdout', (data: Buffer) => push({ stream: 'stdout', data }));
    if (this.options.stderr) connection.on('stderr', (data: Buffer) => push({ stream: this.tty ? 'stdout' : 'stderr', data }));
    connection.on('exited', () => this.finish());
    connection.on('runtime-error', () => this.finish());
    connection.on('close', () => this.finish());
    for (const data of this.pendingStdin) this.sendStdin(data);
    this.pendingStdin = [];
  }

  /** The process is gone (or never started): end the output. */
  finish(): void {
    if (!this.output.writableEnded) this.output.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection?.close();
    this.finish();
  }

  private forwardStdin(chunk: Buffer): void {
    const keys = this.options.detachKeys;
    if (keys && keys.length > 0) {
      for (const byte of chunk) {
        this.detachMatched = byte === keys[this.detachMatched] ? this.detachMatched + 1 : byte === keys[0] ? 1 : 0;
        if (this.detachMatched === keys.length) {
          this.close();
          return;
        }
      }
    }
    this.sendStdin(chunk);
  }

  private sendStdin(data: Buffer | null): void {
    if (!this.connection) {
      this.pendingStdin.push(data);
      return;
    }
    if (data === null) this.connection.closeStdin();
    else this.connection.writeStdin(data);
  }
}

/** Parses Docker's --detach-keys ("ctrl-p,ctrl-q", "a,ctrl-@"...) into bytes. */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const key of spec.split(',')) {
    const lower = key.trim().toLowerCase();
    if (lower.length === 1) {
      bytes.push(lower.charCodeAt(0));
    } else if (lower.startsWith('ctrl-') && lower.length === 6) {
      const c = lower.charCodeAt(5);
      if (c >= 97 && c <= 122) bytes.push(c - 96);
      else if (lower[5] === '@') bytes.push(0);
      else if (lower[5] === '[') bytes.push(27);
      else if (lower[5] === '\\') bytes.push(28);
      else if (lower[5] === ']') bytes.push(29);
      else if (lower[5] === '^') bytes.push(30);
      else if (lower[5] === '_') bytes.push(31);
      else throw new Error(`Unknown character: '${key}'`);
    } else {
      throw new Error(`Unknown character: '${key}'`);
    }
  }
  return Buffer.from(bytes);
}
