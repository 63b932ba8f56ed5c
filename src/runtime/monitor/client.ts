import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { failedPrecondition, unavailable } from '../../errors';
import { encodeFrame, ExitStatus, FrameDecoder, FrameType, Hello, MONITOR_PROTOCOL_VERSION } from './protocol';

/** How long a monitor may take to greet a new connection (it does so as it accepts it). */
const HELLO_TIMEOUT_MS = 5000;

export interface MonitorConnectionEvents {
  stdout: [Buffer];
  stderr: [Buffer];
  started: [number];
  exited: [ExitStatus];
  'runtime-error': [string];
  close: [];
}

/**
 * One client connection to a berth-monitor. connect() resolves once the monitor's HELLO
 * arrived with a protocol version this daemon speaks. Output arrives from the moment of connecting;
 * a late client still gets STARTED/EXITED/ERROR for what already happened. Never emits
 * 'error': a broken connection is just 'close'.
 */
export class MonitorConnection extends EventEmitter<MonitorConnectionEvents> {
  private readonly decoder = new FrameDecoder();
  private pid: number | undefined;
  private exitStatus: ExitStatus | undefined;
  private runtimeError: string | undefined;
  private closed = false;
  /** The monitor's greeting; set before connect() resolves. */
  hello!: Hello;
  /** Frames that came with HELLO, delivered once the caller had a chance to listen. */
  private early: Array<{ type: number; payload: Buffer }> | undefined = [];

  private constructor(private readonly socket: net.Socket) {
    super();
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.early) this.closeAfterEarly = true;
      else this.markClosed();
    });
  }

  private closeAfterEarly = false;

  private markClosed(): void {
    this.closed = true;
    this.emit('close');
  }

  static connect(socketPath: string): Promise<MonitorConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      const connection = new MonitorConnection(socket);
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(failedPrecondition(`monitor at ${socketPath} sent no hello within ${HELLO_TIMEOUT_MS} ms (a monitor older than protocol version ${MONITOR_PROTOCOL_VERSION}?)`)),
        HELLO_TIMEOUT_MS,
      );
      socket.once('error', (err: Error) => fail(unavailable(`cannot connect to monitor at ${socketPath}: ${err.message}`, err)));
      socket.once('close', () => fail(unavailable(`monitor at ${socketPath} closed the connection before its hello`)));
      const decoder = connection.decoder;
      const onHelloData = (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        if (frames.length === 0) return;
        const [first, ...rest] = frames;
        socket.off('data', onHelloData);
        let hello: Hello | undefined;
        if (first!.type === FrameType.HELLO) {
          try {
            hello = JSON.parse(first!.payload.toString()) as Hello;
          } catch {
            hello = undefined;
          }
        }
        if (!hello || typeof hello.version !== 'number') {
          return fail(failedPrecondition(`monitor at ${socketPath} did not start with a hello frame: it speaks no protocol version this daemon knows (${MONITOR_PROTOCOL_VERSION})`));
        }
        if (hello.version !== MONITOR_PROTOCOL_VERSION) {
          return fail(
            failedPrecondition(`monitor at ${socketPath} (pid ${hello.monitorPid}) speaks protocol version ${hello.version}; this daemon speaks version ${MONITOR_PROTOCOL_VERSION}`),
          );
        }
        settled = true;
        clearTimeout(timer);
        connection.hello = hello;
        connection.early = rest.map((f) => ({ type: f.type, payload: Buffer.from(f.payload) }));
        socket.on('data', (more: Buffer) => connection.onData(more));
        // The caller's continuation runs first (a microtask), then what came with HELLO.
        setImmediate(() => connection.deliverEarly());
        resolve(connection);
      };
      socket.on('data', onHelloData);
    });
  }

  private deliverEarly(): void {
    const early = this.early ?? [];
    this.early = undefined;
    for (const frame of early) this.onFrame(frame.type, frame.payload);
    if (this.closeAfterEarly) this.markClosed();
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
      if (this.early) this.early.push({ type, payload: Buffer.from(payload) });
      else this.onFrame(type, payload);
    }
  }

  private onFrame(type: number, payload: Buffer): void {
    {
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
