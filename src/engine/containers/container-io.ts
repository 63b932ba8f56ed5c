import * as path from 'node:path';
import { conflict, invalidArgument, isENOENT, messageOf, notImplemented } from '../../errors';
import type { Task } from '../../runtime/task/types';
import { isLive } from '../../metadata/containers';
import type { AttachSession, LogSession, OutputChunk } from '../../util/stdio-streams';
import { formatRfc3339NanoFixed } from '../../runtime/monitor/log-reader';
import type { Container, ContainerContext } from './container-context';
import { MonitorAttachSession, parseDetachKeys } from './attach';
import { resolveLogConfig } from './log-config';

export interface AttachOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  detachKeys?: string;
  logs?: boolean;
  stream?: boolean;
}

export interface LogsOptions {
  follow?: boolean;
  since?: number;
  until?: number;
  tail?: number | 'all';
  stdout?: boolean;
  stderr?: boolean;
  signal?: AbortSignal;
}

/**
 * A container's streams: attach (sessions made before the start are connected by it, so
 * `docker run` loses no output), logs and TTY resize.
 */
export class ContainerIO {
  private readonly pendingAttaches = new Map<string, MonitorAttachSession[]>();

  constructor(private readonly ctx: ContainerContext) {}

  /**
   * `accept` runs once the attach is valid, before output is connected (the API answers its
   * headers there). A session for a container that is not running waits for its start, and
   * is registered before `accept`, so a client that starts it on seeing the headers loses
   * nothing.
   */
  async attach(ref: string, options: AttachOptions, accept?: (tty: boolean) => Promise<void>): Promise<AttachSession> {
    const container = this.ctx.get(ref);
    const config = container.Config;
    let detachKeys: Buffer | undefined;
    try {
      detachKeys = parseDetachKeys(options.detachKeys || 'ctrl-p,ctrl-q');
    } catch (err) {
      throw invalidArgument(messageOf(err));
    }
    const session = new MonitorAttachSession(Boolean(config.Tty), {
      stdin: Boolean(options.stdin && config.OpenStdin),
      stdout: options.stdout !== false,
      stderr: options.stderr !== false,
      closeStdinOnEnd: Boolean(config.StdinOnce),
      detachKeys: config.Tty ? detachKeys : undefined,
    });
    if (options.logs) {
      // Replayed while the caller already reads the session, so a slow reader slows the replay.
      void session.replay(this.replayLog(container, options)).catch((err: unknown) => session.output.destroy(err as Error));
    }
    const task = this.ctx.tasks.get(container.Id);
    const live = options.stream !== false && isLive(container) && task !== undefined;
    if (options.stream !== false && !live) this.addPendingAttach(container.Id, session);
    try {
      await accept?.(Boolean(config.Tty));
    } catch (err) {
      this.removePendingAttach(container.Id, session);
      session.close();
      throw err;
    }
    if (options.stream === false) {
      session.finish();
      return session;
    }
    if (live) {
      try {
        session.bind(await task.attach());
      } catch (err) {
        // It exited while the headers went out: the session just ends, as for any exit.
        if (this.ctx.tasks.get(container.Id) === task) throw err;
        session.finish();
      }
    }
    this.ctx.publish('attach', container);
    return session;
  }

  private addPendingAttach(id: string, session: MonitorAttachSession): void {
    const list = this.pendingAttaches.get(id) ?? [];
    list.push(session);
    this.pendingAttaches.set(id, list);
    session.output.on('close', () => this.removePendingAttach(id, session));
  }

  private removePendingAttach(id: string, session: MonitorAttachSession): void {
    const current = this.pendingAttaches.get(id);
    if (current) this.pendingAttaches.set(id, current.filter((s) => s !== session));
  }

  /** At start, between the task's creation and START: sessions attached before it get its streams. */
  async bindPendingAttaches(id: string, task: Task): Promise<void> {
    for (const session of this.pendingAttaches.get(id) ?? []) {
      session.bind(await task.attach());
    }
    this.pendingAttaches.delete(id);
  }

  /** A start that failed ends the sessions waiting for it. */
  finishPendingAttaches(id: string): void {
    for (const session of this.pendingAttaches.get(id) ?? []) session.finish();
    this.pendingAttaches.delete(id);
  }

  /** attach?logs=1: what the container wrote so far, before live output (compose uses it). */
  private async *replayLog(container: Container, options: { stdout?: boolean; stderr?: boolean }): AsyncIterable<OutputChunk> {
    for await (const batch of this.ctx.deps.runtime.logs(this.logPath(container.Id), {})) {
      // Consecutive lines of one stream go out as one chunk.
      let parts: Buffer[] = [];
      let stream: OutputChunk['stream'] | undefined;
      for (const entry of batch) {
        if (entry.stream === 'stdout' ? options.stdout === false : options.stderr === false) continue;
        if (stream !== undefined && entry.stream !== stream) {
          yield { stream, data: Buffer.concat(parts) };
          parts = [];
        }
        stream = entry.stream;
        parts.push(entry.line);
      }
      if (stream !== undefined && parts.length > 0) yield { stream, data: Buffer.concat(parts) };
    }
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const container = this.ctx.get(ref);
    if (!isLive(container)) {
      throw conflict(`Container ${container.Id} is not running`);
    }
    this.ctx.tasks.get(container.Id)?.resize(height, width);
  }

  logs(ref: string, options: LogsOptions): LogSession {
    const { store, runtime } = this.ctx.deps;
    const container = this.ctx.get(ref);
    if (!options.stdout && !options.stderr) throw invalidArgument('You must choose at least one stream');
    if (!resolveLogConfig(container.HostConfig.LogConfig).enabled) throw notImplemented('configured logging driver does not support reading');
    const isDone = () => {
      const status = store.statusOf(container.Id);
      return status === undefined || !isLive({ State: { Status: status } });
    };
    const source = runtime.logs(this.logPath(container.Id), { follow: options.follow, since: options.since, until: options.until, tail: options.tail, signal: options.signal, isDone });
    const wantStdout = options.stdout !== false;
    const wantStderr = options.stderr !== false;
    // Lines of one record share a time: format it once.
    let lastNanos = -1n;
    let lastTime = '';
    const timeOf = (ns: bigint) => {
      if (ns !== lastNanos) {
        lastNanos = ns;
        lastTime = formatRfc3339NanoFixed(ns);
      }
      return lastTime;
    };
    async function* batches() {
      try {
        for await (const batch of source) {
          const out = [];
          for (const entry of batch) {
            if ((entry.stream === 'stdout' && !wantStdout) || (entry.stream === 'stderr' && !wantStderr)) continue;
            out.push({ stream: entry.stream, time: timeOf(entry.timeNanos), line: entry.line, continued: entry.continued });
          }
          if (out.length > 0) yield out;
        }
      } catch (err) {
        if (!isENOENT(err)) throw err;
      }
    }
    return { tty: Boolean(container.Config.Tty), batches: batches() };
  }

  private logPath(id: string): string {
    return path.join(this.ctx.deps.store.dir(id), 'container.log');
  }
}
