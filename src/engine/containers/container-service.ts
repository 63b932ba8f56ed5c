import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { conflict, invalidArgument, isENOENT, messageOf, notModified } from '../../errors';
import { RuntimeStartError } from '../../runtime/task';
import { parseSignal } from '../../runtime/task';
import type { Task } from '../../runtime/task/types';
import { buildResources } from '../../runtime/spec/build-spec';
import { KeyedMutex } from '../../util/mutex';
import type { Logger } from '../../util/logger';
import {
  ContainerRecord,
  ContainerStore,
  isLive,
  newContainerId,
  newContainerState,
  validateContainerName,
} from '../../metadata/containers';
import type { RootfsStore, Change } from '../../snapshots/types';
import type { EventBus } from '../events/event-bus';
import type { AttachSession, LogSession, OutputChunk } from '../../util/stdio-streams';
import type { ExitStatus } from '../../runtime/task';
import { formatRfc3339Nano, formatRfc3339NanoFixed } from '../../runtime/monitor/log-reader';
import type { ContainerUpdateRequest } from '../../api/types/containers';
import { verifyCreateSettings, verifyUpdateSettings } from './verify-settings';
import { unsupportedSettingWarnings } from './unsupported-settings';
import { ContainerConfig, HostConfig, mergeImageConfig, normalizeNetworkMode, parseBind, processArgs } from './create-config';
import { MonitorAttachSession, parseDetachKeys } from './attach';
import { generateName } from './names';
import type { ContainerRuntime, ImageLookup } from './ports';
import type { LocalVolumes } from '../../volumes/local-volumes';
import { containerCgroupsPath, prepareRuntimeSpec, resourceConfig } from './runtime-spec';
import { closeFd, openHostDir, openProcessRoot } from '../../archive';
import { restartDelay, startsWithDaemon, validateRestartPolicy } from './restart-policy';
import { resolveLogConfig } from './log-config';

export type Container = ContainerRecord<ContainerConfig, HostConfig>;

export interface ContainerServiceDeps {
  store: ContainerStore;
  images: ImageLookup;
  rootfs: RootfsStore;
  runtime: ContainerRuntime;
  volumes: LocalVolumes;
  events: EventBus;
  logger: Logger;
}

export interface CreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: unknown;
}

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (result: { StatusCode: number; Error: { Message: string } | null }) => void;
}

const DEFAULT_STOP_TIMEOUT_SECONDS = 10;
/** Back-off for recording an exit that failed (e.g. ENOSPC): 100 ms doubling up to 10 s, until it succeeds. */
const EXIT_RECORD_RETRY_FIRST_MS = 100;
const EXIT_RECORD_RETRY_MAX_MS = 10_000;
/** In a container's dir while berth itself holds it paused (commit): a restarted daemon unpauses it. */
const PAUSED_BY_BERTH_FILE = 'paused-by-berth';
const ZERO_TIME = '0001-01-01T00:00:00Z';

function nowRfc3339(): string {
  return formatRfc3339Nano(BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n));
}

/**
 * Container lifecycle: create → start → stop/kill → remove, plus attach, logs, wait and
 * the file-system verbs. Operations on one container are serialized by a per-id mutex,
 * so concurrent API calls cannot interleave check-then-act sequences.
 */
/**
 * How an archive operation sees a container: 'mounts' as its processes do (a live one's
 * mount namespace, volumes and bind mounts included: cp), 'rootfs' its own file system
 * only (export). A stopped container is its mounted rootfs either way.
 */
export type RootfsView = 'mounts' | 'rootfs';

export class ContainerService {
  private readonly lock = new KeyedMutex();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly pendingAttaches = new Map<string, MonitorAttachSession[]>();
  /** The task of each running container (its exit is watched through it). */
  private readonly tasks = new Map<string, Task>();
  /** How many callers use each container's mounted root file system (cp, export, commit). */
  private readonly rootfsBorrowers = new Map<string, number>();
  /** Pending restarts by policy, with the delay used, for the doubling back-off. */
  private readonly restarts = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();
  /** Callbacks waiting for a running container's exit to be recorded. */
  private readonly exitListeners = new Map<string, Array<() => void>>();
  /** Set at daemon shutdown: monitor connections close, but the containers live on. */
  private detached = false;

  constructor(private readonly deps: ContainerServiceDeps) {}

  get store(): ContainerStore {
    return this.deps.store;
  }

  // ---- create -------------------------------------------------------------------------

  async create(name: string | undefined, request: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    const { store, images, rootfs } = this.deps;
    const imageRef = request.Image;
    if (!imageRef) throw invalidArgument('config cannot be empty in order to create a container');
    const hostConfig: HostConfig = { ...(request.HostConfig ?? {}) };
    normalizeNetworkMode(hostConfig.NetworkMode);
    validateRestartPolicy(hostConfig.RestartPolicy);
    const { HostConfig: _host, NetworkingConfig: _network, ...requestConfig } = request;
    const warnings = [...verifyCreateSettings(requestConfig, hostConfig), ...unsupportedSettingWarnings(requestConfig, hostConfig)];
    for (const bind of hostConfig.Binds ?? []) parseBind(bind);
    resolveLogConfig(hostConfig.LogConfig);
    if (hostConfig.AutoRemove && hostConfig.RestartPolicy?.Name && !['', 'no'].includes(hostConfig.RestartPolicy.Name)) {
      throw invalidArgument("can't create 'AutoRemove' container with restart policy");
    }
    return images.holding(async () => {
      const image = await images.resolve(imageRef);
      const { HostConfig: _h, NetworkingConfig: _n, ...configRequest } = request;
      const config = mergeImageConfig(configRequest, image.config);
      const argv = processArgs(config);

      const id = newContainerId();
      const containerName = validateContainerName(name && name.length > 0 ? name : generateName((n) => store.isNameTaken(n)));
      store.reserveName(containerName, id);
      try {
        const chainId = await images.ensureUnpacked(image);
        config.Hostname = config.Hostname || id.slice(0, 12);
        config.Image = imageRef;
        const record: Container = {
          Id: id,
          Name: containerName,
          Created: nowRfc3339(),
          ImageName: imageRef,
          ImageId: image.id,
          ImageChainId: chainId,
          Path: argv[0]!,
          Args: argv.slice(1),
          Config: config,
          HostConfig: hostConfig,
          State: newContainerState(),
          RestartCount: 0,
        };
        await rootfs.create(id, chainId);
        await store.save(record as ContainerRecord);
        this.deps.events.publish('container', 'create', id, this.eventAttributes(record));
        return { Id: id, Warnings: warnings };
      } catch (err) {
        store.releaseName(containerName, id);
        await rootfs.remove(id).catch(() => undefined);
        throw err;
      }
    });
  }

  // ---- start --------------------------------------------------------------------------

  start(ref: string): Promise<void> {
    const container = this.get(ref);
    return this.lock.run(container.Id, () => this.startLocked(container.Id));
  }

  private async startLocked(id: string, options: { byPolicy?: boolean; countRestart?: boolean } = {}): Promise<void> {
    const container = this.get(id);
    if (isLive(container)) {
      throw notModified('container already started');
    }
    if (options.countRestart) container.RestartCount += 1;
    if (!options.byPolicy) {
      const pending = this.restarts.get(id);
      if (pending) clearTimeout(pending.timer);
      this.restarts.delete(id);
      container.HasBeenManuallyStopped = false;
    }
    const { rootfs, runtime, store } = this.deps;
    const containerDir = store.dir(id);
    await runtime.delete(id).catch(() => undefined);
    const mountPoint = await rootfs.mount(id);
    try {
      const spec = await prepareRuntimeSpec({ container, containerDir, rootfsPath: mountPoint, volumes: this.deps.volumes });
      const log = resolveLogConfig(container.HostConfig.LogConfig);
      // The runtime's network hook runs inside create, between the spec and the start.
      const task = await runtime.create({
        id,
        bundleDir: path.join(containerDir, 'bundle'),
        spec,
        tty: Boolean(container.Config.Tty),
        openStdin: Boolean(container.Config.OpenStdin),
        ...(log.enabled ? { log: { path: path.join(containerDir, 'container.log'), maxSize: log.maxSize, maxFiles: log.maxFiles } } : {}),
      });
      this.tasks.set(id, task);
      for (const session of this.pendingAttaches.get(id) ?? []) {
        session.bind(await task.attach());
      }
      this.pendingAttaches.delete(id);
      let pid: number;
      try {
        pid = (await task.start()).pid;
      } catch (err) {
        task.close();
        throw err;
      }
      this.watchExit(id, task);
      container.State = {
        ...container.State,
        Status: 'running',
        Pid: pid,
        ExitCode: 0,
        Error: '',
        OOMKilled: false,
        StartedAt: nowRfc3339(),
        FinishedAt: ZERO_TIME,
      };
      // Atomic but not fsynced: after a power cut nothing runs anyway, and either record is
      // right then (restore() turns a 'running' record whose monitor is gone into an exit).
      await store.save(container as ContainerRecord, { durable: false });
      this.deps.events.publish('container', 'start', id, this.eventAttributes(container));
    } catch (err) {
      const message = messageOf(err);
      this.tasks.delete(id);
      for (const session of this.pendingAttaches.get(id) ?? []) session.finish();
      this.pendingAttaches.delete(id);
      await runtime.delete(id).catch(() => undefined);
      await rootfs.unmount(id).catch(() => undefined);
      const exitCode = err instanceof RuntimeStartError && err.exitCode !== undefined ? err.exitCode : 128;
      container.State = { ...container.State, Status: 'exited', Pid: 0, ExitCode: exitCode, Error: message, FinishedAt: nowRfc3339() };
      await store.save(container as ContainerRecord);
      this.notifyWaiters(container, 'exit');
      if (container.HostConfig.AutoRemove) await this.removeLocked(id, { force: true, volumes: true });
      throw err;
    }
  }

  private watchExit(id: string, task: Task): void {
    this.tasks.set(id, task);
    void task.wait().then(async (status) => {
      if (this.detached) return;
      task.close();
      await this.handleExit(id, status).catch((err: unknown) => this.deps.logger.error('handling container exit failed', { id, error: messageOf(err) }));
    });
  }

  /** The task of a running container, for exec. */
  task(id: string): Task {
    const task = this.tasks.get(id);
    if (!task) throw conflict(`Container ${id} is not running`);
    return task;
  }

  /**
   * Records an exit (status from the monitor, or from its exit file if the connection dropped), retrying with back-off until it is on disk (a full disk, ENOSPC): the
   * task's exit file stays until then, so neither the status nor a restarted daemon's view of
   * it is lost. `wait` and `stop` complete once it is recorded.
   */
  private async handleExit(id: string, status: ExitStatus | undefined): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.recordExit(id, status);
        break;
      } catch (err) {
        if (this.detached) return; // the next daemon records it from the exit file
        const retryInMs = Math.min(EXIT_RECORD_RETRY_MAX_MS, EXIT_RECORD_RETRY_FIRST_MS * 2 ** attempt);
        this.deps.logger.error('recording a container exit failed, will retry', { id, error: messageOf(err), retryInMs });
        await delay(retryInMs);
      }
    }
    this.notifyExitRecorded(id);
  }

  private recordExit(id: string, status: ExitStatus | undefined): Promise<void> {
    return this.lock.run(id, async () => {
      // A copy: the store keeps the running record until the exited one is saved.
      const container = this.deps.store.find(id) as Container | undefined;
      if (!container || !isLive(container)) return;
      const final = status ?? (await this.deps.runtime.readExit(id));
      await this.deps.rootfs.unmount(id).catch((err: unknown) => this.deps.logger.warn('unmount failed', { id, error: messageOf(err) }));
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
        await this.deps.store.save(container as ContainerRecord);
        // Recorded: the task (and its exit file) can go. (removeLocked does it for --rm.)
        await this.deps.runtime.delete(id).catch(() => undefined);
      }
      this.tasks.delete(id);
      if (container.State.OOMKilled) this.deps.events.publish('container', 'oom', id, this.eventAttributes(container));
      this.deps.events.publish('container', 'die', id, { ...this.eventAttributes(container), exitCode: String(container.State.ExitCode) });
      this.notifyWaiters(container, 'exit');
      if (container.HostConfig.AutoRemove) {
        await this.removeLocked(id, { force: true, volumes: true }, container);
        return;
      }
      await this.scheduleRestart(container);
    });
  }

  /** Applies the restart policy after an exit (called under the container lock). */
  private async scheduleRestart(container: Container): Promise<void> {
    const previous = this.restarts.get(container.Id);
    const delay = restartDelay(
      container.HostConfig.RestartPolicy,
      {
        exitCode: container.State.ExitCode,
        manuallyStopped: Boolean(container.HasBeenManuallyStopped),
        restartCount: container.RestartCount,
        ranForMs: Date.parse(container.State.FinishedAt) - Date.parse(container.State.StartedAt),
      },
      previous?.delayMs ?? 0,
    );
    if (delay === undefined || this.detached) {
      this.restarts.delete(container.Id);
      return;
    }
    container.State = { ...container.State, Status: 'restarting' };
    await this.deps.store.save(container as ContainerRecord);
    const timer = setTimeout(() => {
      void this.lock
        .run(container.Id, async () => {
          if (this.deps.store.find(container.Id)?.State.Status !== 'restarting') return;
          await this.startLocked(container.Id, { byPolicy: true, countRestart: true });
        })
        .catch((err: unknown) => this.deps.logger.warn('restart by policy failed', { id: container.Id, error: messageOf(err) }));
    }, delay);
    timer.unref();
    this.restarts.set(container.Id, { timer, delayMs: delay });
  }

  /** Cancels a pending policy restart; the container stays exited. */
  private async cancelRestart(container: Container): Promise<void> {
    const pending = this.restarts.get(container.Id);
    if (pending) clearTimeout(pending.timer);
    this.restarts.delete(container.Id);
    if (container.State.Status === 'restarting') {
      container.State = { ...container.State, Status: 'exited' };
      await this.deps.store.save(container as ContainerRecord);
    }
  }

  // ---- stop / kill / restart / pause --------------------------------------------------

  /**
   * Sends the stop signal, then SIGKILL after the timeout. Runs outside the container lock:
   * the exit handler takes the lock to record the exit, and stop waits for that record.
   */
  async stop(ref: string, options: { signal?: string; timeout?: number } = {}): Promise<void> {
    const container = this.get(ref);
    const id = container.Id;
    const signal = options.signal || container.Config.StopSignal || 'SIGTERM';
    const timeout = options.timeout ?? container.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_SECONDS;
    // Check and signal under the lock; waiting for the exit is outside it (the exit handler takes it).
    const stopping = await this.lock.run(id, async () => {
      const current = this.deps.store.find(id) as Container | undefined;
      if (current?.State.Status === 'restarting') {
        current.HasBeenManuallyStopped = true;
        await this.cancelRestart(current);
        return undefined;
      }
      if (!current || !isLive(current)) throw notModified('container already stopped');
      await this.markManuallyStoppedLocked(current);
      const recorded = this.exitRecorded(id);
      await this.signalLocked(current, parseSignal(signal));
      return { recorded }; // wrapped: returning the promise itself would wait for it under the lock
    });
    if (!stopping) return; // a pending policy restart was cancelled
    const exited = stopping.recorded;
    const stoppedInTime = timeout < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), delay(timeout * 1000).then(() => false)]);
    if (!stoppedInTime) {
      await this.lock.run(id, async () => {
        const current = this.deps.store.find(id);
        if (current && isLive(current)) await this.tasks.get(id)?.kill('SIGKILL').catch(() => undefined);
      });
      await exited;
    }
    this.deps.events.publish('container', 'stop', id, this.eventAttributes(container));
  }

  /**
   * Records that the user stopped the container (under the lock), so its restart policy
   * leaves it alone once the exit is recorded.
   */
  private async markManuallyStoppedLocked(current: Container): Promise<void> {
    if (current.HasBeenManuallyStopped) return;
    current.HasBeenManuallyStopped = true;
    await this.deps.store.save(current as ContainerRecord);
  }

  /** Sends a signal to a live container, resuming it first when paused (called under the lock). */
  private async signalLocked(container: Container, signal: number | string): Promise<void> {
    const task = this.tasks.get(container.Id);
    if (container.State.Status === 'paused') await task?.resume().catch(() => undefined);
    await task?.kill(signal).catch(() => undefined);
  }

  /** Resolves once the current run's exit has been recorded (at once when not running). */
  private exitRecorded(id: string): Promise<void> {
    const container = this.deps.store.find(id);
    if (!container || !isLive(container)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.exitListeners.get(id) ?? [];
      list.push(resolve);
      this.exitListeners.set(id, list);
    });
  }

  private notifyExitRecorded(id: string): void {
    const list = this.exitListeners.get(id);
    this.exitListeners.delete(id);
    for (const resolve of list ?? []) resolve();
  }

  /** Sends a signal; SIGKILL also waits until the exit is recorded, as in Docker. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const number = parseSignal(signal);
    let exited: Promise<void> | undefined;
    await this.lock.run(this.get(ref).Id, async () => {
      const container = this.get(ref);
      if (container.State.Status === 'paused') {
        throw conflict(`Cannot kill container: ${ref}: Container ${container.Id} is paused. Unpause the container before stopping or killing`);
      }
      if (container.State.Status !== 'running') {
        throw conflict(`Cannot kill container: ${ref}: Container ${container.Id} is not running`);
      }
      // Docker: a container the user signalled is not restarted by its restart policy.
      if (!container.HasBeenManuallyStopped) {
        container.HasBeenManuallyStopped = true;
        await this.deps.store.save(container as ContainerRecord);
      }
      if (number === 9) exited = this.exitRecorded(container.Id);
      await this.task(container.Id).kill(number);
      this.deps.events.publish('container', 'kill', container.Id, { ...this.eventAttributes(container), signal: String(number) });
    });
    await exited;
  }

  async restart(ref: string, options: { signal?: string; timeout?: number } = {}): Promise<void> {
    const container = this.get(ref);
    if (isLive(container)) {
      await this.stop(container.Id, options);
    }
    await this.start(container.Id);
    this.deps.events.publish('container', 'restart', container.Id, this.eventAttributes(container));
  }

  /**
   * `forCommit`: berth pauses on its own behalf; a marker file is written first, so a
   * daemon killed before it unpauses finds it on restore and unpauses (see restore()).
   */
  async pause(ref: string, options: { forCommit?: boolean } = {}): Promise<void> {
    await this.lock.run(this.get(ref).Id, async () => {
      const container = this.get(ref);
      if (container.State.Status === 'paused') throw conflict(`Container ${container.Id} is already paused`);
      if (container.State.Status !== 'running') throw conflict(`Container ${container.Id} is not running`);
      if (options.forCommit) await fs.writeFile(this.pausedByBerthFile(container.Id), 'commit\n');
      await this.task(container.Id).pause();
      container.State = { ...container.State, Status: 'paused' };
      await this.deps.store.save(container as ContainerRecord);
      this.deps.events.publish('container', 'pause', container.Id, this.eventAttributes(container));
    });
  }

  async unpause(ref: string, options: { forCommit?: boolean } = {}): Promise<void> {
    await this.lock.run(this.get(ref).Id, async () => {
      const container = this.get(ref);
      if (container.State.Status !== 'paused') throw conflict(`Container ${container.Id} is not paused`);
      await this.task(container.Id).resume();
      container.State = { ...container.State, Status: 'running' };
      await this.deps.store.save(container as ContainerRecord);
      if (options.forCommit) await fs.rm(this.pausedByBerthFile(container.Id), { force: true });
      this.deps.events.publish('container', 'unpause', container.Id, this.eventAttributes(container));
    });
  }

  private pausedByBerthFile(id: string): string {
    return path.join(this.deps.store.dir(id), PAUSED_BY_BERTH_FILE);
  }

  /** At restore: a container berth paused for a commit that never finished runs again (`container`: a fresh copy, under the lock). */
  private async unpauseIfPausedByBerth(container: Container, task: Task | undefined): Promise<void> {
    const marker = this.pausedByBerthFile(container.Id);
    if (!(await fs.access(marker).then(() => true, () => false))) return;
    if (task) {
      await task.resume().catch(() => undefined); // not paused yet when killed before the pause: fine
      if (container.State.Status === 'paused') {
        container.State = { ...container.State, Status: 'running' };
        await this.deps.store.save(container as ContainerRecord);
      }
      this.deps.logger.info('unpaused a container paused for a commit that did not finish', { id: container.Id });
    }
    await fs.rm(marker, { force: true });
  }

  // ---- remove / rename ----------------------------------------------------------------

  async remove(ref: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const container = this.get(ref);
    const removing = await this.lock.run(container.Id, async () => {
      const current = this.deps.store.find(container.Id) as Container | undefined;
      if (!current || !isLive(current)) return undefined;
      if (!options.force) {
        throw conflict(
          `You cannot remove a ${current.State.Status} container ${current.Id}. ${current.State.Status === 'paused' ? 'Unpause and then stop' : 'Stop'} the container before attempting removal or force remove`,
        );
      }
      const recorded = this.exitRecorded(current.Id);
      await this.markManuallyStoppedLocked(current);
      await this.signalLocked(current, 'SIGKILL');
      return { recorded }; // wrapped: the exit is waited for outside the lock
    });
    await removing?.recorded;
    await this.lock.run(container.Id, () => this.removeLocked(container.Id, options));
  }

  /** `latest`: the caller's newer copy (an exit it did not save), for the events and waiters. */
  private async removeLocked(id: string, options: { force?: boolean; volumes?: boolean }, latest?: Container): Promise<void> {
    const container = latest ?? (this.deps.store.find(id) as Container | undefined);
    if (!container) return;
    await this.cancelRestart(container);
    const { runtime, rootfs, store } = this.deps;
    await runtime.delete(id).catch(() => undefined);
    await rootfs.unmount(id);
    await store.delete(id);
    await rootfs.remove(id);
    this.deps.events.publish('container', 'destroy', id, this.eventAttributes(container));
    this.notifyWaiters(container, 'removed');
  }

  async rename(ref: string, newName: string): Promise<void> {
    const name = validateContainerName(newName);
    await this.lock.run(this.get(ref).Id, async () => {
      const container = this.get(ref);
      if (name === container.Name) throw conflict(`Renaming a container with the same name as its current name`);
      const old = container.Name;
      this.deps.store.reserveName(name, container.Id);
      container.Name = name;
      try {
        await this.deps.store.save(container as ContainerRecord);
      } catch (err) {
        container.Name = old;
        this.deps.store.releaseName(name, container.Id);
        throw err;
      }
      this.deps.store.releaseName(old, container.Id);
      this.deps.events.publish('container', 'rename', container.Id, { ...this.eventAttributes(container), oldName: old });
    });
  }

  /** Changes resource limits (and the restart policy); a running container gets them at once. */
  async update(ref: string, body: ContainerUpdateRequest): Promise<{ Warnings: string[] }> {
    return this.lock.run(this.get(ref).Id, async () => {
      const container = this.get(ref);
      const { RestartPolicy, ...resources } = body;
      const updated: HostConfig = { ...container.HostConfig, ...resources };
      const warnings = verifyUpdateSettings(updated);
      if (RestartPolicy) {
        validateRestartPolicy(RestartPolicy);
        if (updated.AutoRemove && RestartPolicy.Name && RestartPolicy.Name !== 'no') {
          throw invalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        updated.RestartPolicy = RestartPolicy;
      }
      if (isLive(container)) {
        await this.task(container.Id).update(buildResources(resourceConfig(updated)));
      }
      container.HostConfig = updated;
      await this.deps.store.save(container as ContainerRecord);
      this.deps.events.publish('container', 'update', container.Id, this.eventAttributes(container));
      return { Warnings: warnings };
    });
  }

  // ---- wait / attach / logs / resize --------------------------------------------------

  wait(ref: string, condition: WaitCondition = 'not-running'): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const container = this.get(ref);
    const running = isLive(container);
    if (condition === 'not-running' && !running) {
      return Promise.resolve({ StatusCode: container.State.ExitCode, Error: null });
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(container.Id) ?? [];
      list.push({ condition, resolve });
      this.waiters.set(container.Id, list);
    });
  }

  private notifyWaiters(container: Container, event: 'exit' | 'removed'): void {
    const list = this.waiters.get(container.Id);
    if (!list) return;
    const result = { StatusCode: container.State.ExitCode, Error: container.State.Error ? { Message: container.State.Error } : null };
    const remaining = list.filter((waiter) => {
      const fires = event === 'removed' || waiter.condition !== 'removed';
      if (fires) waiter.resolve(result);
      return !fires;
    });
    if (remaining.length > 0) this.waiters.set(container.Id, remaining);
    else this.waiters.delete(container.Id);
  }

  async attach(
    ref: string,
    options: { stdin?: boolean; stdout?: boolean; stderr?: boolean; detachKeys?: string; logs?: boolean; stream?: boolean },
  ): Promise<AttachSession> {
    const container = this.get(ref);
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
    if (options.stream === false) {
      session.finish();
      return session;
    }
    const task = this.tasks.get(container.Id);
    if (isLive(container) && task) {
      session.bind(await task.attach());
    } else {
      const list = this.pendingAttaches.get(container.Id) ?? [];
      list.push(session);
      this.pendingAttaches.set(container.Id, list);
      session.output.on('close', () => {
        const current = this.pendingAttaches.get(container.Id);
        if (current) this.pendingAttaches.set(container.Id, current.filter((s) => s !== session));
      });
    }
    this.deps.events.publish('container', 'attach', container.Id, this.eventAttributes(container));
    return session;
  }

  /** attach?logs=1: what the container wrote so far, before live output (compose uses it). */
  private async *replayLog(container: Container, options: { stdout?: boolean; stderr?: boolean }): AsyncIterable<OutputChunk> {
    const logPath = path.join(this.deps.store.dir(container.Id), 'container.log');
    for await (const batch of this.deps.runtime.logs(logPath, {})) {
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
    const container = this.get(ref);
    if (!isLive(container)) {
      throw conflict(`Container ${container.Id} is not running`);
    }
    this.tasks.get(container.Id)?.resize(height, width);
  }

  logs(ref: string, options: { follow?: boolean; since?: number; until?: number; tail?: number | 'all'; stdout?: boolean; stderr?: boolean; signal?: AbortSignal }): LogSession {
    const container = this.get(ref);
    if (!options.stdout && !options.stderr) throw invalidArgument('You must choose at least one stream');
    const logPath = path.join(this.deps.store.dir(container.Id), 'container.log');
    const isDone = () => {
      const status = this.deps.store.statusOf(container.Id);
      return status === undefined || !isLive({ State: { Status: status } });
    };
    const source = this.deps.runtime.logs(logPath, { follow: options.follow, since: options.since, until: options.until, tail: options.tail, signal: options.signal, isDone });
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

  // ---- file system views --------------------------------------------------------------

  async changes(ref: string): Promise<Change[]> {
    const container = this.get(ref);
    return this.deps.rootfs.changes(container.Id);
  }

  /**
   * Lends the container's root file system as an O_PATH directory fd (never a path: what
   * is under it belongs to the container, see util/fs-at.ts), mounting it for a
   * stopped container. 'mounts' is what the container's processes see: for a live one its
   * mount namespace through /proc/<pid>/root, volumes and bind mounts included (cp);
   * 'rootfs' is its own file system only (export). Borrowers are counted, so one `cp`
   * finishing cannot unmount what another is still reading; the last one unmounts unless
   * the container runs.
   */
  private async borrowRootfs(container: Container, view: RootfsView): Promise<{ rootFd: number; release: () => void }> {
    const id = container.Id;
    const root = await this.lock.run(id, async () => {
      const mounted = await this.deps.rootfs.mount(id);
      this.rootfsBorrowers.set(id, (this.rootfsBorrowers.get(id) ?? 0) + 1);
      return mounted;
    });
    let released = false;
    const giveBack = () => {
      if (released) return;
      released = true;
      void this.lock.run(id, async () => {
        const left = (this.rootfsBorrowers.get(id) ?? 1) - 1;
        if (left > 0) {
          this.rootfsBorrowers.set(id, left);
          return;
        }
        this.rootfsBorrowers.delete(id);
        const current = this.deps.store.find(id);
        if (!current || !isLive(current)) await this.deps.rootfs.unmount(id).catch(() => undefined);
      });
    };
    let rootFd: number;
    try {
      rootFd = view === 'mounts' && isLive(container) ? openProcessRoot(container.State.Pid, containerCgroupsPath(id)) : openHostDir(root);
    } catch (err) {
      giveBack();
      throw err;
    }
    const release = () => {
      if (released) return;
      closeFd(rootFd);
      giveBack();
    };
    return { rootFd, release };
  }

  /** Runs `fn` with an fd of the container's root; then publishes `event` if given (Docker's extract-to-dir, ...). */
  async withRootfs<T>(ref: string, event: string | undefined, fn: (rootFd: number, container: Container) => Promise<T>, view: RootfsView = 'mounts'): Promise<T> {
    const container = this.get(ref);
    const { rootFd, release } = await this.borrowRootfs(container, view);
    try {
      const result = await fn(rootFd, container);
      if (event) this.deps.events.publish('container', event, container.Id, this.eventAttributes(container));
      return result;
    } finally {
      release();
    }
  }

  /** A stream made from the container's root (export, archive), which stays borrowed until the stream closes. */
  async streamFromRootfs(ref: string, event: string, makeTar: (rootFd: number) => Readable, view: RootfsView = 'mounts'): Promise<Readable> {
    const container = this.get(ref);
    const { rootFd, release } = await this.borrowRootfs(container, view);
    let stream: Readable;
    try {
      stream = makeTar(rootFd);
    } catch (err) {
      release();
      throw err;
    }
    stream.once('close', release);
    this.deps.events.publish('container', event, container.Id, this.eventAttributes(container));
    return stream;
  }

  async top(ref: string): Promise<number[]> {
    const container = this.get(ref);
    if (!isLive(container)) {
      throw conflict(`Container ${container.Id} is not running`);
    }
    return this.task(container.Id).top();
  }

  // ---- queries ------------------------------------------------------------------------

  get(ref: string): Container {
    return this.deps.store.get(ref) as Container;
  }

  /** Every container, read-only (frozen records: `get` a copy to change one). */
  list(): readonly Container[] {
    return this.deps.store.list() as readonly Container[];
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

  async rwSize(id: string): Promise<number> {
    return this.deps.rootfs.rwSize(id);
  }

  eventAttributes(container: Container): Record<string, string> {
    return { image: container.ImageName, name: container.Name.slice(1), ...(container.Config.Labels ?? {}) };
  }

  // ---- daemon start / stop ------------------------------------------------------------

  /**
   * Re-adopts containers after a daemon (re)start: a running container whose monitor still
   * listens is watched again; one whose monitor is gone gets its exit status from the exit
   * file (or is marked dead).
   */
  async restore(): Promise<void> {
    for (const container of this.list()) {
      if (!isLive(container)) {
        await this.deps.rootfs.unmount(container.Id).catch(() => undefined);
        continue;
      }
      const loaded = await this.deps.runtime.load({
        id: container.Id,
        bundleDir: path.join(this.deps.store.dir(container.Id), 'bundle'),
        tty: Boolean(container.Config.Tty),
      });
      if ('task' in loaded) {
        this.watchExit(container.Id, loaded.task);
        await this.lock.run(container.Id, () => this.unpauseIfPausedByBerth(this.get(container.Id), loaded.task));
        this.deps.logger.info('re-adopted running container', { id: container.Id });
      } else {
        await this.unpauseIfPausedByBerth(container, undefined);
        // One try now; if the disk is still full, keep retrying in the background.
        await this.recordExit(container.Id, loaded.exited).then(
          () => this.notifyExitRecorded(container.Id),
          () => void this.handleExit(container.Id, loaded.exited),
        );
      }
    }
    await this.startByPolicy();
  }

  /** At daemon start: containers whose policy says so run again (always, unless-stopped). */
  private async startByPolicy(): Promise<void> {
    for (const container of this.list()) {
      if (container.State.Status !== 'exited' && container.State.Status !== 'restarting') continue;
      if (!startsWithDaemon(container.HostConfig.RestartPolicy, Boolean(container.HasBeenManuallyStopped))) {
        if (container.State.Status === 'restarting') await this.lock.run(container.Id, () => this.cancelRestart(this.get(container.Id)));
        continue;
      }
      await this.lock
        .run(container.Id, () => this.startLocked(container.Id, { byPolicy: true }))
        .catch((err: unknown) => this.deps.logger.warn('start by restart policy failed', { id: container.Id, error: messageOf(err) }));
    }
  }

  /** Closes the daemon's monitor connections; containers keep running. */
  detachAll(): void {
    this.detached = true;
    for (const pending of this.restarts.values()) clearTimeout(pending.timer);
    this.restarts.clear();
    for (const task of this.tasks.values()) task.close();
    this.tasks.clear();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
