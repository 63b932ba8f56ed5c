import type { Readable } from 'node:stream';
import { conflict, isNotFound } from '../../errors';
import type { Task } from '../../runtime/task/types';
import { isLive, type ContainerRecord, type ContainerStore } from '../../metadata/containers';
import type { Change } from '../../snapshots/types';
import type { AttachSession, LogSession } from '../../util/stdio-streams';
import type { ContainerUpdateRequest } from '../../api/types/containers';
import { type Container, ContainerContext, type ContainerServiceDeps } from './container-context';
import { ContainerExits, type WaitCondition, type WaitResult } from './container-exits';
import { type AttachOptions, ContainerIO, type LogsOptions } from './container-io';
import { ContainerLifecycle, type CreateRequest, type RemoveOptions, type StopOptions } from './container-lifecycle';
import { ContainerRestore } from './container-restore';
import { ContainerRootfsLending, type RootfsView } from './container-rootfs-lending';
import type { StatsSample } from './container-stats';
import { readNetworkStats } from './net-dev';

export type { Container, ContainerServiceDeps } from './container-context';
export type { CreateRequest } from './container-lifecycle';
export type { RootfsView } from './container-rootfs-lending';

/**
 * The containers' one entry point for the backends, exec and the daemon: it wires the
 * modules that do the work — lifecycle, exits (waits, restart policies), IO, rootfs lending
 * and restore — around one shared context (deps, per-container mutex, tasks).
 */
export class ContainerService {
  private readonly ctx: ContainerContext;
  private readonly exits: ContainerExits;
  private readonly io: ContainerIO;
  private readonly lifecycle: ContainerLifecycle;
  private readonly rootfsLending: ContainerRootfsLending;
  private readonly restorer: ContainerRestore;

  constructor(deps: ContainerServiceDeps) {
    this.ctx = new ContainerContext(deps);
    // Exits and lifecycle call each other (an exit removes --rm containers and restarts by
    // policy); the exits module reaches the lifecycle through these callbacks.
    this.exits = new ContainerExits(this.ctx, {
      removeLocked: (id, latest) => this.lifecycle.removeLocked(id, latest),
      restartLocked: (id) => this.lifecycle.startLocked(id, { byPolicy: true, countRestart: true }),
    });
    this.io = new ContainerIO(this.ctx);
    this.lifecycle = new ContainerLifecycle(this.ctx, this.exits, this.io);
    this.rootfsLending = new ContainerRootfsLending(this.ctx);
    this.restorer = new ContainerRestore(this.ctx, this.exits, this.lifecycle);
  }

  get store(): ContainerStore {
    return this.ctx.deps.store;
  }

  find(id: string): Container | undefined {
    return this.ctx.deps.store.find(id) as Container | undefined;
  }

  /** Runs `fn` under the container's lock on a fresh copy of its record; `save` stores the copy (network connect/disconnect). */
  withLocked<T>(ref: string, fn: (container: Container, save: () => Promise<void>) => Promise<T>): Promise<T> {
    const id = this.ctx.get(ref).Id;
    return this.ctx.lock.run(id, async () => {
      const container = this.ctx.get(id);
      return fn(container, () => this.ctx.deps.store.save(container as ContainerRecord));
    });
  }

  // ---- lifecycle ----------------------------------------------------------------------

  create(name: string | undefined, request: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    return this.lifecycle.create(name, request);
  }

  start(ref: string): Promise<void> {
    return this.lifecycle.start(ref);
  }

  stop(ref: string, options: StopOptions = {}): Promise<void> {
    return this.lifecycle.stop(ref, options);
  }

  kill(ref: string, signal?: string): Promise<void> {
    return this.lifecycle.kill(ref, signal);
  }

  restart(ref: string, options: StopOptions = {}): Promise<void> {
    return this.lifecycle.restart(ref, options);
  }

  pause(ref: string): Promise<void> {
    return this.lifecycle.pause(ref);
  }

  pauseForCommit(ref: string): Promise<boolean> {
    return this.lifecycle.pauseForCommit(ref);
  }

  unpause(ref: string, options: { forCommit?: boolean } = {}): Promise<void> {
    return this.lifecycle.unpause(ref, options);
  }

  remove(ref: string, options: RemoveOptions = {}): Promise<void> {
    return this.lifecycle.remove(ref, options);
  }

  rename(ref: string, newName: string): Promise<void> {
    return this.lifecycle.rename(ref, newName);
  }

  update(ref: string, body: ContainerUpdateRequest): Promise<{ Warnings: string[] }> {
    return this.lifecycle.update(ref, body);
  }

  /** `signal`: the client went away; its waiter is dropped. */
  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<WaitResult> {
    return this.exits.wait(this.get(ref), condition, signal);
  }

  // ---- IO -----------------------------------------------------------------------------

  attach(ref: string, options: AttachOptions, accept?: (tty: boolean) => Promise<void>): Promise<AttachSession> {
    return this.io.attach(ref, options, accept);
  }

  logs(ref: string, options: LogsOptions): LogSession {
    return this.io.logs(ref, options);
  }

  resize(ref: string, height: number, width: number): Promise<void> {
    return this.io.resize(ref, height, width);
  }

  // ---- file system views --------------------------------------------------------------

  changes(ref: string): Promise<Change[]> {
    return this.rootfsLending.changes(ref);
  }

  rwSize(id: string): Promise<number> {
    return this.rootfsLending.rwSize(id);
  }

  withRootfs<T>(ref: string, event: string | undefined, fn: (rootFd: number, container: Container) => Promise<T>, view: RootfsView = 'mounts'): Promise<T> {
    return this.rootfsLending.withRootfs(ref, event, fn, view);
  }

  streamFromRootfs(ref: string, event: string, makeTar: (rootFd: number) => Readable, view: RootfsView = 'mounts'): Promise<Readable> {
    return this.rootfsLending.streamFromRootfs(ref, event, makeTar, view);
  }

  // ---- queries ------------------------------------------------------------------------

  /** The task of a running container, for exec. */
  task(id: string): Task {
    return this.ctx.task(id);
  }

  /** `signal` ends the runc call early (the client went away). */
  async top(ref: string, signal?: AbortSignal): Promise<number[]> {
    const container = this.get(ref);
    if (!isLive(container)) {
      throw conflict(`Container ${container.Id} is not running`);
    }
    return this.task(container.Id).top({ signal });
  }

  /** A container's counters now (none while it is not running), for GET /containers/{id}/stats. */
  async statsSample(ref: string): Promise<StatsSample> {
    const container = this.ctx.get(ref);
    const task = isLive(container) ? this.ctx.tasks.get(container.Id) : undefined;
    const stats = await task?.stats().catch((err: unknown) => {
      if (isNotFound(err)) return undefined; // it stopped meanwhile
      throw err;
    });
    const networks = stats ? await readNetworkStats(container.State.Pid) : undefined;
    return { name: container.Name, id: container.Id, stats, ...(networks ? { networks } : {}) };
  }

  get(ref: string): Container {
    return this.ctx.get(ref);
  }

  /** Every container, read-only (frozen records: `get` a copy to change one). */
  list(): readonly Container[] {
    return this.ctx.list();
  }

  isImageInUse(imageId: string): boolean {
    return this.list().some((c) => c.ImageId === imageId);
  }

  chainIdsInUse(): Set<string> {
    return new Set(this.list().flatMap((c) => (c.ImageChainId ? [c.ImageChainId] : [])));
  }

  async prune(filter: (c: Container) => boolean = () => true): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const container of this.list()) {
      if (isLive(container) || !filter(container)) continue;
      const size = await this.rwSize(container.Id);
      await this.remove(container.Id, {});
      deleted.push(container.Id);
      reclaimed += size;
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  eventAttributes(container: Container): Record<string, string> {
    return this.ctx.eventAttributes(container);
  }

  // ---- daemon start / stop ------------------------------------------------------------

  /** At daemon (re)start: see ContainerRestore. */
  restore(): Promise<void> {
    return this.restorer.restore();
  }

  /** Closes the daemon's monitor connections; containers keep running. */
  detachAll(): void {
    this.ctx.detached = true;
    this.exits.cancelAllRestartTimers();
    for (const task of this.ctx.tasks.values()) task.close();
    this.ctx.tasks.clear();
  }
}
