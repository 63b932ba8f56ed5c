import { PassThrough, Writable } from 'node:stream';
import type { TaskStream } from '../../runtime/task/types';
import type { AttachSession, OutputChunk } from '../../util/stdio-streams';
import { DetachWatcher } from '../../util/detach-keys';
export { parseDetachKeys } from '../../util/detach-keys';

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
  private connection?: TaskStream;
  private pendingStdin: Array<Buffer | null> = [];
  private closed = false;
  private readonly detachWatcher?: DetachWatcher;
  /** Live output held while the log is replayed, so it comes after the replay. */
  private held?: OutputChunk[];
  private finishAfterReplay = false;
  private wakeReplay?: () => void;

  constructor(
    readonly tty: boolean,
    private readonly options: AttachOptions,
  ) {
    if (options.detachKeys && options.detachKeys.length > 0) this.detachWatcher = new DetachWatcher(options.detachKeys);
    if (options.stdin) {
      this.stdin = new Writable({
        // Backpressure: the next chunk waits until the monitor took this one (it reads a
        // client no faster than the process drains its stdin).
        write: (chunk: Buffer, _encoding, callback) => {
          if (this.forwardStdin(chunk) || !this.connection) callback();
          else void this.connection.drained().then(() => callback());
        },
        final: (callback) => {
          if (this.options.closeStdinOnEnd) this.sendStdin(null);
          callback();
        },
      });
    }
  }

  /** Binds the monitor connection; buffered stdin is flushed to it. */
  bind(connection: TaskStream): void {
    if (this.closed) {
      connection.close();
      return;
    }
    this.connection = connection;
    const push = (chunk: OutputChunk) => {
      if (this.held) this.held.push(chunk);
      else if (!this.output.writableEnded) this.output.write(chunk);
    };
    if (this.options.stdout) connection.on('stdout', (data: Buffer) => push({ stream: 'stdout', data }));
    if (this.options.stderr) connection.on('stderr', (data: Buffer) => push({ stream: this.tty ? 'stdout' : 'stderr', data }));
    connection.on('exited', () => this.finish());
    connection.on('runtime-error', () => this.finish());
    connection.on('close', () => this.finish());
    for (const data of this.pendingStdin) this.sendStdin(data);
    this.pendingStdin = [];
  }

  /**
   * Writes `chunks` (the log so far) ahead of live output, waiting for the reader whenever
   * the output is full. Live output arriving meanwhile is held and follows the replay.
   */
  async replay(chunks: AsyncIterable<OutputChunk>): Promise<void> {
    this.held = [];
    try {
      for await (const chunk of chunks) {
        if (this.closed || this.output.writableEnded) break;
        if (!this.output.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              this.output.off('drain', done).off('close', done);
              this.wakeReplay = undefined;
              resolve();
            };
            this.output.on('drain', done).on('close', done);
            this.wakeReplay = done;
          });
        }
      }
    } finally {
      const held = this.held ?? [];
      this.held = undefined;
      if (!this.output.writableEnded) for (const chunk of held) this.output.write(chunk);
      if (this.finishAfterReplay) this.finish();
    }
  }

  /** The process is gone (or never started): end the output (after a replay in progress). */
  finish(): void {
    if (this.held) {
      this.finishAfterReplay = true;
      return;
    }
    if (!this.output.writableEnded) this.output.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = undefined;
    this.wakeReplay?.();
    this.connection?.close();
    this.finish();
  }

  /** False when the connection's buffer is full. */
  private forwardStdin(chunk: Buffer): boolean {
    if (this.detachWatcher?.feed(chunk)) {
      this.close();
      return true;
    }
    return this.sendStdin(chunk);
  }

  private sendStdin(data: Buffer | null): boolean {
    if (!this.connection) {
      this.pendingStdin.push(data);
      return true;
    }
    if (data === null) {
      this.connection.closeStdin();
      return true;
    }
    return this.connection.writeStdin(data);
  }
}
