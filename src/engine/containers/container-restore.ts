import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { messageOf } from '../../errors';
import type { Task } from '../../runtime/task/types';
import { type ContainerRecord, isLive } from '../../metadata/containers';
import type { Container, ContainerContext } from './container-context';
import type { ContainerExits } from './container-exits';
import type { ContainerLifecycle } from './container-lifecycle';
import { startsWithDaemon } from './restart-policy';
import { mountPoints } from '../../snapshots/overlay/mountinfo';

/**
 * Daemon start: re-adopts running containers, records the exits that happened while no
 * daemon ran, unpauses what berth itself paused, and starts containers by restart policy.
 */
export class ContainerRestore {
  constructor(
    private readonly ctx: ContainerContext,
    private readonly exits: ContainerExits,
    private readonly lifecycle: ContainerLifecycle,
  ) {}

  /**
   * A running container whose monitor still listens is watched again; one whose monitor is
   * gone gets its exit status from the exit file (or is marked dead).
   */
  async restore(): Promise<void> {
    const { deps, lock } = this.ctx;
    // One read of the mount table, not two per stopped container (seconds at 2,000 containers).
    const mounted = new Set(await mountPoints());
    for (const container of this.ctx.list()) {
      if (!isLive(container)) {
        if (mounted.has(deps.rootfs.mountPoint(container.Id))) await deps.rootfs.unmount(container.Id).catch(() => undefined);
        // As dockerd's restore: a --rm container that is not running goes (created and never
        // started, or brought back by a machine crash: its records are not fsynced).
        if (container.HostConfig.AutoRemove) {
          await lock
            .run(container.Id, () => this.lifecycle.removeLocked(container.Id))
            .catch((err: unknown) => deps.logger.warn('removing a --rm container at start failed', { id: container.Id, error: messageOf(err) }));
        } else if (container.State.Status === 'created') {
          // The monitor its create started ahead, should a crash have left it waiting.
          await deps.runtime.delete(container.Id).catch(() => undefined);
        }
        continue;
      }
      const loaded = await deps.runtime.load({
        id: container.Id,
        bundleDir: path.join(deps.store.dir(container.Id), 'bundle'),
        tty: Boolean(container.Config.Tty),
      });
      if ('task' in loaded) {
        this.exits.watchExit(container.Id, loaded.task);
        await lock.run(container.Id, () => this.unpauseIfPausedByBerth(this.ctx.get(container.Id), loaded.task));
        deps.logger.info('re-adopted running container', { id: container.Id });
      } else {
        await this.unpauseIfPausedByBerth(container, undefined);
        // One try now; if the disk is still full, keep retrying in the background.
        await this.exits.recordExit(container.Id, loaded.exited).then(
          () => this.exits.notifyExitRecorded(container.Id),
          () => void this.exits.handleExit(container.Id, loaded.exited),
        );
      }
    }
    await this.removeOrphanTasks();
    await this.startByPolicy();
  }

  /**
   * Task state no container owns: a removal answers once the record is gone and deletes the
   * task (runc state, cgroups, task dir) after, so a daemon killed in between leaves it.
   */
  private async removeOrphanTasks(): Promise<void> {
    const { runtime, logger } = this.ctx.deps;
    const orphans = (await runtime.orphanTaskIds?.(this.ctx.list().map((c) => c.Id)).catch(() => [] as string[])) ?? [];
    for (const id of orphans) {
      await runtime.delete(id).then(
        () => logger.info('removed the task state of a container removed before a crash', { id }),
        (err: unknown) => logger.warn('removing an orphan task failed', { id, error: messageOf(err) }),
      );
    }
  }

  /** A container berth paused for a commit that never finished runs again (`container`: a fresh copy, under the lock). */
  private async unpauseIfPausedByBerth(container: Container, task: Task | undefined): Promise<void> {
    const marker = this.ctx.pausedByBerthFile(container.Id);
    if (!(await fs.access(marker).then(() => true, () => false))) return;
    if (task) {
      await task.resume().catch(() => undefined); // not paused yet when killed before the pause: fine
      if (container.State.Status === 'paused') {
        container.State = { ...container.State, Status: 'running' };
        await this.ctx.deps.store.save(container as ContainerRecord);
      }
      this.ctx.deps.logger.info('unpaused a container paused for a commit that did not finish', { id: container.Id });
    }
    await fs.rm(marker, { force: true });
  }

  /** Containers whose policy says so run again (always, unless-stopped). */
  private async startByPolicy(): Promise<void> {
    const { lock, deps } = this.ctx;
    for (const container of this.ctx.list()) {
      if (container.State.Status !== 'exited' && container.State.Status !== 'restarting') continue;
      if (!startsWithDaemon(container.HostConfig.RestartPolicy, Boolean(container.HasBeenManuallyStopped))) {
        if (container.State.Status === 'restarting') await lock.run(container.Id, () => this.exits.cancelRestart(this.ctx.get(container.Id)));
        continue;
      }
      await lock
        .run(container.Id, () => this.lifecycle.startLocked(container.Id, { byPolicy: true }))
        .catch((err: unknown) => deps.logger.warn('start by restart policy failed', { id: container.Id, error: messageOf(err) }));
    }
  }
}
