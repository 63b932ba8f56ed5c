import type { Duplex } from 'node:stream';
import { demuxTo } from '../../client/stdcopy';
import type { ContainerWaitResponse } from '../../client/types';
import { DetachWatcher, parseDetachKeys, DEFAULT_DETACH_KEYS } from '../../util/detach-keys';

export interface AttachIoOptions {
  socket: Duplex;
  tty: boolean;
  /** Local stdin to forward, when attached. */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  detachKeys?: string;
}

export interface AttachIoResult {
  /** The user typed the detach sequence. */
  detached: boolean;
}

/**
 * Holds a hijacked attach/exec connection like docker's holdHijackedConnection: copies the
 * output (raw with a TTY, demultiplexed without) and forwards stdin, half-closing the
 * connection when stdin ends. With a TTY on both sides the local terminal is in raw mode,
 * so Ctrl-C reaches the container. Resolves when the output ends.
 */
export async function holdHijackedConnection(opts: AttachIoOptions): Promise<AttachIoResult> {
  const { socket, stdin } = opts;
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  let detached = false;
  const rawMode = opts.tty && stdin !== undefined && stdin.isTTY === true;
  if (rawMode) stdin.setRawMode(true);
  const restore = () => {
    if (rawMode) stdin.setRawMode(false);
  };
  process.once('exit', restore);

  let onData: ((chunk: Buffer) => void) | undefined;
  let onEnd: (() => void) | undefined;
  if (stdin) {
    const watcher = rawMode ? new DetachWatcher(parseDetachKeys(opts.detachKeys || DEFAULT_DETACH_KEYS)) : undefined;
    onData = (chunk: Buffer) => {
      if (watcher?.feed(chunk)) detached = true;
      socket.write(chunk);
    };
    onEnd = () => socket.end();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  }

  try {
    if (opts.tty) {
      for await (const chunk of socket) {
        if (!stdout.write(chunk as Buffer)) await new Promise<void>((resolve) => stdout.once('drain', () => resolve()));
      }
    } else {
      await demuxTo(socket, { stdout, stderr });
    }
  } catch (err: unknown) {
    // A reset after the user detached is expected.
    if (!detached) throw err;
  } finally {
    if (stdin && onData && onEnd) {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    }
    restore();
    process.off('exit', restore);
    socket.destroy();
  }
  return { detached };
}

/** Keeps the remote TTY the size of ours: once now, then on every SIGWINCH. Returns a stop function. */
export function monitorTtySize(resize: (height: number, width: number) => Promise<void>, out: NodeJS.WriteStream = process.stdout): () => void {
  if (!out.isTTY) return () => undefined;
  const send = () => {
    const [width, height] = out.getWindowSize();
    resize(height, width).catch(() => undefined);
  };
  send();
  process.on('SIGWINCH', send);
  return () => process.off('SIGWINCH', send);
}

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Forwards our signals to the container with the kill endpoint (docker's --sig-proxy). */
export function proxySignals(kill: (signal: string) => Promise<void>): () => void {
  const handlers = PROXIED_SIGNALS.map((signal) => {
    const handler = () => {
      kill(signal).catch(() => undefined);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

export interface FollowContainerOptions extends Omit<AttachIoOptions, 'socket' | 'stdout'> {
  /** The hijacked attach connection; none when nothing is attached (`run` without streams). */
  socket?: Duplex;
  stdout: NodeJS.WriteStream;
  /** The container's wait, subscribed before start so a fast exit is not missed. */
  waiting: Promise<ContainerWaitResponse>;
  resize: (height: number, width: number) => Promise<void>;
  /** Undoes signal proxying; called once the session ends. */
  stopSignals: () => void;
}

/**
 * The part `run`, `start -a` and `attach` share once the container runs: forwards the
 * terminal size (with a TTY), holds the connection until the output ends, then takes the
 * exit status from the wait. Resolves with 'detached' when the user typed the detach keys.
 */
export async function followContainer(opts: FollowContainerOptions): Promise<ContainerWaitResponse | 'detached'> {
  const stopResize = opts.tty ? monitorTtySize(opts.resize, opts.stdout) : () => undefined;
  try {
    if (opts.socket) {
      const result = await holdHijackedConnection({ ...opts, socket: opts.socket });
      if (result.detached) return 'detached';
    }
    return await opts.waiting;
  } finally {
    stopResize();
    opts.stopSignals();
  }
}
