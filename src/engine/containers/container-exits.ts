import { messageOf } from '../../errors';
import type { ExitStatus } from '../../runtime/task';
import type { Task } from '../../runtime/task/types';
import { type ContainerRecord, isLive } from '../../metadata/containers';
import { type Container, type ContainerContext, delay, nowRfc3339 } from './container-context';
import { restartDelay } from './restart-policy';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export type WaitResult = { StatusCode: number; Error: { Message: string } | null };

interface Waiter {
  condition: WaitCondition;
  resolve: (result: WaitResult) => void;
}

/** Back-off for recording an exit that failed (e.g. ENOSPC): 100 ms doubling up to 10 s, until it succeeds. */
const EXIT_RECORD_RETRY_FIRST_MS = 100;
const EXIT_RECORD_RETRY_MAX_MS = 10_000;

/** What an exit leads to, done by the lifecycle (both called under the container lock). */
export interface AfterExit {
  /** Removes an AutoRemove container; `latest`: the exited record, not saved. */
  removeLocked(id: string, latest: Container): Promise<void>;
  /** Starts the container again by its restart policy. */
  restartLocked(id: string): Promise<void>;
}

/**
 * The exit side of a container: records exits (with back-off while the disk is full),
 * answers `wait` and the callers waiting for a recorded exit (stop, kill, rm -f), and applies
 * restart policies with their doubling back-off.
 */
export class ContainerExits {
  private readonly waiters = new Map<string, Waiter[]>();
  /** Callbacks waiting for a running container's exit to be recorded. */
  private readonly exitListeners = new Map<string, Array<() => void>>();
  /** Pending restarts by policy, with the delay used, for the doubling back-off. */
  private readonly restarts = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();

  constructor(
    private readonly ctx: ContainerContext,
    private readonly after: AfterExit,
  ) {}

  watchExit(id: string, task: Task): void {
    this.ctx.tasks.set(id, task);
    void task.wait().then(async (status) => {
      if (this.ctx.detached) return;
      this.ctx.phases.mark(id, 'exit');
      task.close();
      await this.handleExit(id, status).catch((err: unknown) => this.ctx.deps.logger.error('handling container exit failed', { id, error: messageOf(err) }));
    });
  }

  /**
   * Records an exit (status from the monitor, or from its exit file if the connection dropped), retrying with back-off until it is on disk (a full disk, ENOSPC): the
   * task's exit file stays until then, so neither the status nor a restarted daemon's view of
   * it is lost. `wait` and `stop` complete once it is recorded.
   */
  async handleExit(id: string, status: ExitStatus | undefined): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.recordExit(id, status);
        break;
      } catch (err) {
        if (this.ctx.detached) return; // the next daemon records it from the exit file
        const retryInMs = Math.min(EXIT_RECORD_RETRY_MAX_MS, EXIT_RECORD_RETRY_FIRST_MS * 2 ** attempt);
        this.ctx.deps.logger.error('recording a container exit failed, will retry', { id, error: messageOf(err), retryInMs });
        await delay(retryInMs);
      }
    }
    this.notifyExitRecorded(id);
  }

  recordExit(id: string, status: ExitStatus | undefined): Promise<void> {
    const { deps } = this.ctx;
    return this.ctx.lock.run(id, async () => {
      // A copy: the store keeps the running record until the exited one is saved.
      const container = deps.store.find(id) as Container | undefined;
      if (!container || !isLive(container)) return;
      const final = status ?? (await deps.runtime.readExit(id));
      this.ctx.phases.mark(id, 'exit-locked');
      await deps.rootfs.unmount(id).catch((err: unknown) => deps.logger.warn('unmount failed', { id, error: messageOf(err) }));
      this.ctx.phases.mark(id, 'unmounted');
      container.State = {
        ...container.State,
        Status: 'exited',
        Pid: 0,
        ExitCode: final?.exitCode ?? 255,
        Error: final ? (final.error ?? '') : 'container monitor exited unexpectedly',
        FinishedAt: final?.finishedAt ?? nowRfc3339(),
        OOMKilled: Boolean(final?.oomKilled),
      };
      // An AutoRemove record goes from running straight to removed, saving an fsync pair:
      // should the daemon die in between, restore() finds it running with its monitor
      // gone, reads the exit file and records the exit (and the removal) again. A failed
      // save (or removal) throws with the running record and the exit file left in place,
      // and handleExit tries again.
      if (!container.HostConfig.AutoRemove) {
        await deps.store.save(container as ContainerRecord);
        // Recorded: the task (and its exit file) can go. (removeLocked does it for --rm.)
        await deps.runtime.delete(id).catch(() => undefined);
      }
      this.ctx.tasks.delete(id);
      if (container.State.OOMKilled) this.ctx.publish('oom', container);
      this.ctx.publish('die', container, { exitCode: String(container.State.ExitCode) });
      this.notifyWaiters(container, 'exit');
      if (container.HostConfig.AutoRemove) {
        await this.after.removeLocked(id, container);
        return;
      }
      await this.scheduleRestart(container);
    });
  }

  /** Resolves once the current run's exit has been recorded (at once when not running). */
  exitRecorded(id: string): Promise<void> {
    const container = this.ctx.deps.store.find(id);
    if (!container || !isLive(container)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.exitListeners.get(id) ?? [];
      list.push(resolve);
      this.exitListeners.set(id, list);
    });
  }

  notifyExitRecorded(id: string): void {
    const list = this.exitListeners.get(id);
    this.exitListeners.delete(id);
    for (const resolve of list ?? []) resolve();
  }

  /** `signal`: the caller stopped waiting (its client went away): the waiter is dropped, the promise stays pending. */
  wait(container: Container, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    if (condition === 'not-running' && !isLive(container)) {
      return Promise.resolve({ StatusCode: container.State.ExitCode, Error: null });
    }
    return new Promise((resolve) => {
      if (signal?.aborted) return;
      const onAbort = () => this.dropWaiter(container.Id, waiter);
      const waiter: Waiter = {
        condition,
        resolve: (result) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(result);
        },
      };
      const list = this.waiters.get(container.Id) ?? [];
      list.push(waiter);
      this.waiters.set(container.Id, list);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private dropWaiter(id: string, waiter: Waiter): void {
    const remaining = (this.waiters.get(id) ?? []).filter((w) => w !== waiter);
    if (remaining.length > 0) this.waiters.set(id, remaining);
    else this.waiters.delete(id);
  }

  notifyWaiters(container: Container, event: 'exit' | 'removed'): void {
    const list = this.waiters.get(container.Id);
    if (!list) return;
    // As moby's SetRemoved (SetError(nil)): a removal clears the error, so `docker run --rm` of a
    // container that failed to start prints the start error only, not "Error waiting for container".
    const error = event === 'exit' && container.State.Error ? { Message: container.State.Error } : null;
    const result = { StatusCode: container.State.ExitCode, Error: error };
    const remaining = list.filter((waiter) => {
      const fires = event === 'removed' || waiter.condition !== 'removed';
      if (fires) waiter.resolve(result);
      return !fires;
    });
    if (remaining.length > 0) this.waiters.set(container.Id, remaining);
    else this.waiters.delete(container.Id);
  }

  /** Applies the restart policy after an exit (called under the container lock). */
  private async scheduleRestart(container: Container): Promise<void> {
    const { deps } = this.ctx;
    const previous = this.restarts.get(container.Id);
    const delayMs = restartDelay(
      container.HostConfig.RestartPolicy,
      {
        exitCode: container.State.ExitCode,
        manuallyStopped: Boolean(container.HasBeenManuallyStopped),
        restartCount: container.RestartCount,
        ranForMs: Date.parse(container.State.FinishedAt) - Date.parse(container.State.StartedAt),
      },
      previous?.delayMs ?? 0,
    );
    if (delayMs === undefined || this.ctx.detached) {
      this.restarts.delete(container.Id);
      return;
    }
    container.State = { ...container.State, Status: 'restarting' };
    await deps.store.save(container as ContainerRecord);
    const timer = setTimeout(() => {
      void this.ctx.lock
        .run(container.Id, async () => {
          if (deps.store.find(container.Id)?.State.Status !== 'restarting') return;
          await this.after.restartLocked(container.Id);
        })
        .catch((err: unknown) => deps.logger.warn('restart by policy failed', { id: container.Id, error: messageOf(err) }));
    }, delayMs);
    timer.unref();
    this.restarts.set(container.Id, { timer, delayMs });
  }

  /** Forgets a pending policy restart and its back-off (a manual start begins afresh). */
  forgetRestart(id: string): void {
    const pending = this.restarts.get(id);
    if (pending) clearTimeout(pending.timer);
    this.restarts.delete(id);
  }

  /** Cancels a pending policy restart; the container stays exited (called under the lock). */
  async cancelRestart(container: Container): Promise<void> {
    this.forgetRestart(container.Id);
    if (container.State.Status === 'restarting') {
      container.State = { ...container.State, Status: 'exited' };
      await this.ctx.deps.store.save(container as ContainerRecord);
    }
  }

  /** At daemon shutdown: no restart fires in this process any more. */
  cancelAllRestartTimers(): void {
    for (const pending of this.restarts.values()) clearTimeout(pending.timer);
    this.restarts.clear();
  }
}
