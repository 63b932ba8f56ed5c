import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { unavailable } from '../../errors';
import { encodeFrame, ExitStatus, FrameDecoder, FrameType } from './protocol';

export interface MonitorConnectionEvents {
  stdout: [Buffer];
  stderr: [Buffer];
  started: [number];
  exited: [ExitStatus];
  'runtime-error': [string];
  close: [];
}

/**
 * One client connection to a berth-monitor. Output arrives from the moment of connecting;
 * a late client still gets STARTED/EXITED/ERROR for what already happened. Never emits
 * 'error': a broken connection is just 'close'.
 */
export class MonitorConnection extends EventEmitter<MonitorConnectionEvents> {
  private readonly decoder = new FrameDecoder();
  private pid: number | undefined;
  private exitStatus: ExitStatus | undefined;
  private runtimeError: string | undefined;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
  }

  static connect(socketPath: string): Promise<MonitorConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      const onError = (err: Error) => reject(unavailable(`cannot connect to monitor at ${socketPath}: ${err.message}`, err));
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new MonitorConnection(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Launch the runtime (only meaningful for a monitor started with waitStart). */
  start(): void {
    this.send(encodeFrame(FrameType.START));
  }

  /** Returns false when the socket's buffer is full: await drained() before writing more. */
  writeStdin(data: Buffer): boolean {
    return this.send(encodeFrame(FrameType.STDIN, data));
  }

  /** Resolves once buffered writes are flushed to the monitor (or the connection closed). */
  drained(): Promise<void> {
    if (this.closed || this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  closeStdin(): void {
    this.send(encodeFrame(FrameType.STDIN_CLOSE));
  }

  resize(rows: number, cols: number): void {
    this.send(encodeFrame(FrameType.RESIZE, `${Math.trunc(rows)} ${Math.trunc(cols)}`));
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /** Resolves with the process pid; rejects when the runtime failed or the monitor went away first. */
  waitStarted(): Promise<number> {
    if (this.pid !== undefined) return Promise.resolve(this.pid);
    if (this.runtimeError !== undefined) return Promise.reject(unavailable(this.runtimeError));
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.off('started', onStarted);
        this.off('runtime-error', onError);
        this.off('close', onClose);
      };
      const onStarted = (pid: number) => (cleanup(), resolve(pid));
      const onError = (message: string) => (cleanup(), reject(unavailable(message)));
      const onClose = () => (cleanup(), reject(unavailable('monitor closed the connection before the process started')));
      this.on('started', onStarted);
      this.on('runtime-error', onError);
      this.on('close', onClose);
      if (this.closed) onClose();
    });
  }

  /** Resolves with the exit status (also after a runtime failure, with exitCode 127 and error). */
  waitExited(): Promise<ExitStatus> {
    if (this.exitStatus !== undefined) return Promise.resolve(this.exitStatus);
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.off('exited', onExited);
        this.off('close', onClose);
      };
      const onExited = (status: ExitStatus) => (cleanup(), resolve(status));
      const onClose = () => (cleanup(), reject(unavailable('monitor closed the connection before the process exited')));
      this.on('exited', onExited);
      this.on('close', onClose);
      if (this.closed) onClose();
    });
  }

  private send(frame: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    for (const { type, payload } of this.decoder.push(chunk)) {
      switch (type) {
        case FrameType.STDOUT:
          this.emit('stdout', Buffer.from(payload));
          break;
        case FrameType.STDERR:
          this.emit('stderr', Buffer.from(payload));
          break;
        case FrameType.STARTED:
          this.pid = Number(payload.toString());
          this.emit('started', this.pid);
          break;
        case FrameType.EXITED:
          this.exitStatus = JSON.parse(payload.toString()) as ExitStatus;
          this.emit('exited', this.exitStatus);
          break;
        case FrameType.ERROR:
          this.runtimeError = payload.toString();
          this.emit('runtime-error', this.runtimeError);
          break;
        default:
          break;
      }
    }
  }
}
