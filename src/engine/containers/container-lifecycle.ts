import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { conflict, EngineError, errorKind, invalidArgument, isNotFound, messageOf, notModified } from '../../errors';
import { RuntimeStartError, parseSignal } from '../../runtime/task';
import type { Task } from '../../runtime/task/types';
import { buildResources, DEFAULT_SHM_SIZE } from '../../runtime/spec/build-spec';
import { type ContainerRecord, isLive, newContainerId, newContainerState, validateContainerName } from '../../metadata/containers';
import type { ContainerUpdateRequest } from '../../api/types/containers';
import type { EndpointSettings } from '../../api/types/networks';
import { type Container, type ContainerContext, delay, nowRfc3339, ZERO_TIME } from './container-context';
import type { ContainerExits } from './container-exits';
import type { ContainerIO } from './container-io';
import { verifyCreateSettings, verifyUpdateSettings } from './verify-settings';
import { unsupportedSettingWarnings } from './unsupported-settings';
import { formatLink } from '../networks/legacy-links';
import { ContainerConfig, HostConfig, mergeImageConfig, normalizeNetworkMode, parseBind, processArgs } from './create-config';
import { generateName } from './names';
import { containerCgroupsPath, prepareRuntimeSpec, resourceConfig } from './runtime-spec';
import type { OciSpec } from '../../runtime/spec/oci-types';
import { createEtcMountPoints, writeManagedEtcFiles } from './managed-etc-files';
import { resolveExtraHosts } from '../../runtime/etc-files';
import { closeFd, openHostDir } from '../../util/fs-at';
import { validateRestartPolicy } from './restart-policy';
import { mergeUpdate } from './update-resources';
import { anonymousVolumeTargets, createAnonymousVolumes, removeVolumes } from './anonymous-volumes';
import { resolveVolumesFrom } from './shared-mounts';
import { containersUsingVolume } from '../volumes/volume-service';
import { resolveLogConfig, withDefaultDriver } from './log-config';
import { copyUpVolumes } from './volume-copy-up';
import { probeSettings } from '../health/health-config';
import { healthAtStart } from '../health/health-state';

export interface CreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: unknown;
}

export interface StopOptions {
  signal?: string;
  timeout?: number;
}

export interface RemoveOptions {
  force?: boolean;
  volumes?: boolean;
}

const DEFAULT_STOP_TIMEOUT_SECONDS = 10;
/**
 * How long the monitor a create starts ahead waits for the start (`docker run` sends it within
 * milliseconds); after that it is killed and the start spawns one of its own.
 */
const CREATE_PRESTART_IDLE_MS = 5000;
/** How long a commit whose pause failed waits to learn that the process had exited. */
const EXITING_GRACE_MS = 5000;

/**
 * Container lifecycle: create → start → stop/kill → remove, plus restart, pause, rename and
 * update. Operations on one container are serialized by the per-id mutex (ctx.lock), so
 * concurrent API calls cannot interleave check-then-act sequences; `…Locked` methods expect
 * their caller to hold it.
 */
export class ContainerLifecycle {
  /** Created in this process and never started: nothing of an earlier run to delete at start, and a monitor started ahead. */
  private readonly fresh = new Set<string>();

  constructor(
    private readonly ctx: ContainerContext,
    private readonly exits: ContainerExits,
    private readonly io: ContainerIO,
  ) {}

  // ---- create -------------------------------------------------------------------------

  async create(name: string | undefined, request: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    const { store, images, rootfs } = this.ctx.deps;
    const imageRef = request.Image;
    if (!imageRef) throw invalidArgument('config cannot be empty in order to create a container');
    const hostConfig: HostConfig = { ...(request.HostConfig ?? {}) };
    // dockerd stores its default, so inspect shows 67108864 rather than 0.
    if (!hostConfig.ShmSize) hostConfig.ShmSize = DEFAULT_SHM_SIZE;
    // And the runtime it runs the container with.
    if (!hostConfig.Runtime && this.ctx.deps.runtime.name) hostConfig.Runtime = this.ctx.deps.runtime.name;
    normalizeNetworkMode(hostConfig.NetworkMode);
    // Bad network settings are a 400 here; an unknown network is kept by name and its start is the 404, as dockerd's.
    const endpointsConfig = (request.NetworkingConfig as { EndpointsConfig?: Record<string, EndpointSettings | null> } | undefined)?.EndpointsConfig ?? undefined;
    this.ctx.deps.networking?.checkPorts(hostConfig);
    const networks = this.ctx.deps.networking?.planForCreate(hostConfig.NetworkMode, endpointsConfig, (request as { MacAddress?: string }).MacAddress || undefined);
    const links = this.ctx.deps.networking?.checkLinks(hostConfig) ?? [];
    const sharedMounts = resolveVolumesFrom(hostConfig.VolumesFrom, (ref) => this.ctx.get(ref));
    // A bad --add-host is a 400 here (dockerd finds it only at start).
    resolveExtraHosts(hostConfig.ExtraHosts ?? [], this.ctx.deps.networking?.hostGateway({ ...(networks ? { Networks: networks } : {}) }) ?? undefined);
    validateRestartPolicy(hostConfig.RestartPolicy);
    const { HostConfig: _host, NetworkingConfig: _network, ...requestConfig } = request;
    const warnings = [...verifyCreateSettings(requestConfig, hostConfig), ...unsupportedSettingWarnings(requestConfig, hostConfig)];
    // moby's adaptContainerSettings: swap defaults to twice the memory (verify left -1 where the host cannot limit swap).
    if ((hostConfig.Memory ?? 0) > 0 && !hostConfig.MemorySwap) hostConfig.MemorySwap = hostConfig.Memory! * 2;
    for (const bind of hostConfig.Binds ?? []) parseBind(bind);
    resolveLogConfig(hostConfig.LogConfig);
    hostConfig.LogConfig = withDefaultDriver(hostConfig.LogConfig);
    if (hostConfig.AutoRemove && hostConfig.RestartPolicy?.Name && !['', 'no'].includes(hostConfig.RestartPolicy.Name)) {
      throw invalidArgument("can't create 'AutoRemove' container with restart policy");
    }
    return images.holding(async () => {
      const image = await images.resolve(imageRef);
      const { HostConfig: _h, NetworkingConfig: _n, ...configRequest } = request;
      const config = mergeImageConfig(configRequest, image.config);
      const argv = processArgs(config);

      const id = newContainerId();
      this.ctx.phases.begin(id, 'create');
      const containerName = validateContainerName(name && name.length > 0 ? name : generateName((n) => store.isNameTaken(n)));
      store.reserveName(containerName, id);
      let anonymousVolumes: Record<string, string> = {};
      try {
        const chainId = await images.ensureUnpacked(image);
        config.Hostname = config.Hostname || id.slice(0, 12);
        // Stored as dockerd shows them in inspect: /target:/name/alias.
        if (links.length > 0) hostConfig.Links = links.map((link) => formatLink(link, containerName));
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
          ...(networks ? { Networks: networks } : {}),
        };
        // A --rm container does not outlive a machine crash (restore removes it, as dockerd
        // does), so its root and record are written without the directory and journal fsyncs.
        const durable = !hostConfig.AutoRemove;
        await rootfs.prepare(id, chainId, { durable });
        this.ctx.phases.mark(id, 'snapshot');
        await this.prepareManagedEtc(record);
        this.ctx.phases.mark(id, 'etc');
        if (sharedMounts.length > 0) record.SharedMounts = sharedMounts;
        anonymousVolumes = await createAnonymousVolumes(anonymousVolumeTargets(config, hostConfig, sharedMounts), this.ctx.deps.volumes);
        if (Object.keys(anonymousVolumes).length > 0) record.AnonymousVolumes = anonymousVolumes;
        await copyUpVolumes(hostConfig, anonymousVolumes, chainId, this.ctx.deps);
        await store.save(record as ContainerRecord, { durable });
        for (const volume of Object.values(anonymousVolumes)) this.ctx.deps.events.publish('volume', 'create', volume, { driver: 'local' });
        // Its monitor gets ready while the client sends attach, wait and start.
        this.ctx.deps.runtime.prestart?.(this.taskRequest(record), CREATE_PRESTART_IDLE_MS);
        this.fresh.add(id);
        this.ctx.publish('create', record);
        this.ctx.phases.mark(id, 'created');
        return { Id: id, Warnings: warnings };
      } catch (err) {
        store.releaseName(containerName, id);
        await rootfs.remove(id).catch(() => undefined);
        await removeVolumes(Object.values(anonymousVolumes), this.ctx.deps.volumes).catch(() => undefined);
        throw err;
      }
    });
  }

  /** The managed /etc files and their mount points exist from create on, as in Docker (cp of a created container). */
  private async prepareManagedEtc(record: Container): Promise<void> {
    const { rootfs, store } = this.ctx.deps;
    // A --rm root is volatile here too, and stays mounted for the start that follows (a run's
    // next request; mount and unmount block the event loop ~3 ms each): it is unmounted at its
    // exit, its removal, a failed start, or by a restore, which removes it (a crash before its
    // start removes the container anyway, see ContainerRestore). Borrowers unmount it remountable.
    const keepMounted = Boolean(record.HostConfig.AutoRemove);
    const rootFd = openHostDir(await rootfs.mount(record.Id, { volatile: keepMounted }));
    let made = false;
    try {
      createEtcMountPoints(rootFd);
      made = true;
    } finally {
      closeFd(rootFd);
      if (!made || !keepMounted) await rootfs.unmount(record.Id, { remountable: true });
    }
    await writeManagedEtcFiles(record as ContainerRecord<ContainerConfig, HostConfig>, store.dir(record.Id), undefined, undefined, this.ctx.deps.networking?.hostGateway(record as ContainerRecord));
  }

  // ---- start --------------------------------------------------------------------------

  start(ref: string): Promise<void> {
    const container = this.ctx.get(ref);
    return this.ctx.lock.run(container.Id, () => this.startLocked(container.Id));
  }

  /** `byPolicy`: a restart policy starts it (a pending restart and its back-off are kept). */
  async startLocked(id: string, options: { byPolicy?: boolean; countRestart?: boolean } = {}): Promise<void> {
    const container = this.ctx.get(id);
    if (isLive(container)) {
      throw notModified('container already started');
    }
    if (options.countRestart) container.RestartCount += 1;
    if (!options.byPolicy) {
      this.exits.forgetRestart(id);
      container.HasBeenManuallyStopped = false;
    }
    const { rootfs, runtime, store } = this.ctx.deps;
    const containerDir = store.dir(id);
    // A container created by this process and never started has no earlier run to delete,
    // and its monitor was started ahead at create.
    const fresh = this.fresh.delete(id);
    if (fresh) this.ctx.phases.mark(id, 'start');
    else this.ctx.phases.begin(id, 'start');
    if (!fresh) await runtime.delete(id).catch(() => undefined);
    const taskRequest = this.taskRequest(container);
    // The monitor needs neither the root nor the spec until START: it gets ready meanwhile.
    if (!fresh) runtime.prestart?.(taskRequest);
    // The sandbox and its endpoints, before the spec (the hook hands its netns to the task),
    // made while the rootfs is mounted: both wait on the kernel.
    const attaching = this.ctx.deps.networking?.attach(container as ContainerRecord);
    attaching?.catch(() => undefined); // awaited below
    let mountPoint: string;
    try {
      // A --rm root goes at exit, never to be mounted again: volatile (no fs-wide sync at its unmount).
      mountPoint = await rootfs.mount(id, { volatile: Boolean(container.HostConfig.AutoRemove) });
      this.ctx.phases.mark(id, 'mounted');
    } catch (err) {
      // runtime.delete releases the network (the runtime's network hook) and the monitor started ahead.
      await (attaching ?? Promise.resolve()).catch(() => undefined);
      await runtime.delete(id).catch(() => undefined);
      throw err;
    }
    try {
      // The spec is built while the sandbox is made; its /etc files wait for the addresses.
      const network = (async () => {
        const attached = await attaching;
        this.ctx.phases.mark(id, 'attached');
        const hostGateway = this.ctx.deps.networking?.hostGateway(container as ContainerRecord);
        const links = this.ctx.deps.networking?.linksFor(container as ContainerRecord);
        return { addresses: attached?.addresses, nameserver: attached?.nameserver, hostGateway, links };
      })();
      let spec: OciSpec;
      try {
        spec = await prepareRuntimeSpec({ container, containerDir, rootfsPath: mountPoint, volumes: this.ctx.deps.volumes, network });
      } catch (err) {
        // The sandbox is released below (runtime.delete): not before it is made.
        await network.catch(() => undefined);
        throw err;
      }
      this.ctx.phases.mark(id, 'spec');
      // The runtime's network hook runs inside create, between the spec and the start.
      const { cgroupsPath: _cgroups, ...createRequest } = taskRequest;
      const task = await runtime.create({ ...createRequest, spec });
      this.ctx.phases.mark(id, 'task');
      this.ctx.tasks.set(id, task);
      await this.io.bindPendingAttaches(id, task);
      let pid: number;
      try {
        pid = (await task.start()).pid;
        this.ctx.phases.mark(id, 'started');
      } catch (err) {
        task.close();
        throw err;
      }
      this.exits.watchExit(id, task);
      container.State = {
        ...container.State,
        Status: 'running',
        Pid: pid,
        ExitCode: 0,
        Error: '',
        OOMKilled: false,
        StartedAt: nowRfc3339(),
        FinishedAt: ZERO_TIME,
        // Health checks start over at every start (src/engine/health runs the probes).
        ...(probeSettings(container.Config) ? { Health: healthAtStart(container.State.Health) } : {}),
      };
      // Atomic but not fsynced: after a power cut nothing runs anyway, and either record is
      // right then (restore() turns a 'running' record whose monitor is gone into an exit).
      await store.save(container as ContainerRecord, { durable: false });
      this.ctx.publish('start', container);
      this.ctx.phases.mark(id, 'running');
    } catch (err) {
      const message = messageOf(err);
      this.ctx.tasks.delete(id);
      this.io.finishPendingAttaches(id);
      await runtime.delete(id).catch(() => undefined);
      await rootfs.unmount(id).catch(() => undefined);
      const exitCode = err instanceof RuntimeStartError && err.exitCode !== undefined ? err.exitCode : 128;
      container.State = { ...container.State, Status: 'exited', Pid: 0, ExitCode: exitCode, Error: message, FinishedAt: nowRfc3339() };
      await store.save(container as ContainerRecord);
      this.exits.notifyWaiters(container, 'exit');
      if (container.HostConfig.AutoRemove) await this.removeLocked(id);
      throw err;
    }
  }

  /** The runtime's settings for the container's task (its monitor's; prestart and create must agree). */
  private taskRequest(container: Container) {
    const containerDir = this.ctx.deps.store.dir(container.Id);
    const log = resolveLogConfig(container.HostConfig.LogConfig);
    return {
      id: container.Id,
      bundleDir: path.join(containerDir, 'bundle'),
      tty: Boolean(container.Config.Tty),
      openStdin: Boolean(container.Config.OpenStdin),
      ...(log.enabled ? { log: { path: path.join(containerDir, 'container.log'), maxSize: log.maxSize, maxFiles: log.maxFiles } } : {}),
      // A --rm container is removed at its exit, or by a restore after a machine crash.
      ...(container.HostConfig.AutoRemove ? { volatile: true } : {}),
      cgroupsPath: containerCgroupsPath(container.Id),
    };
  }

  // ---- stop / kill / restart / pause --------------------------------------------------

  /**
   * Sends the stop signal, then SIGKILL after the timeout. Runs outside the container lock:
   * the exit handler takes the lock to record the exit, and stop waits for that record.
   */
  async stop(ref: string, options: StopOptions = {}): Promise<void> {
    const { lock, deps } = this.ctx;
    const container = this.ctx.get(ref);
    const id = container.Id;
    const signal = options.signal || container.Config.StopSignal || 'SIGTERM';
    const timeout = options.timeout ?? container.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_SECONDS;
    // Check and signal under the lock; waiting for the exit is outside it (the exit handler takes it).
    const stopping = await lock.run(id, async () => {
      const current = deps.store.find(id) as Container | undefined;
      if (current?.State.Status === 'restarting') {
        current.HasBeenManuallyStopped = true;
        await this.exits.cancelRestart(current);
        return undefined;
      }
      if (!current || !isLive(current)) throw notModified('container already stopped');
      await this.markManuallyStoppedLocked(current);
      const recorded = this.exits.exitRecorded(id);
      const failed = await this.signalLocked(current, parseSignal(signal)).then(
        () => undefined,
        (err: unknown) => err,
      );
      return { recorded, failed }; // wrapped: returning the promise itself would wait for it under the lock
    });
    if (!stopping) return; // a pending policy restart was cancelled
    const exited = stopping.recorded;
    // The stop signal could not be sent (runc failed or hung): waiting would be in vain, so
    // on to SIGKILL at once, which works without runc (moby does the same).
    const stoppedInTime =
      stopping.failed !== undefined
        ? false
        : timeout < 0
          ? await exited.then(() => true)
          : await Promise.race([exited.then(() => true), delay(timeout * 1000).then(() => false)]);
    if (!stoppedInTime) {
      await lock.run(id, async () => {
        const current = deps.store.find(id) as Container | undefined;
        if (!current || !isLive(current)) return;
        await this.signalLocked(current, 'SIGKILL').catch((err: unknown) => {
          throw new EngineError(errorKind(err) ?? 'Internal', `cannot stop container: ${id}: ${messageOf(err)}`, { cause: err });
        });
      });
      await exited;
    }
    this.ctx.publish('stop', container);
  }

  /**
   * Records that the user stopped the container (under the lock), so its restart policy
   * leaves it alone once the exit is recorded.
   */
  private async markManuallyStoppedLocked(current: Container): Promise<void> {
    if (current.HasBeenManuallyStopped) return;
    current.HasBeenManuallyStopped = true;
    await this.ctx.deps.store.save(current as ContainerRecord);
  }

  /**
   * Sends a signal to a live container, resuming it first when paused (called under the
   * lock). Throws when runc fails or hangs (each call is bounded by the runtime's timeout);
   * a process that is already gone is no failure.
   */
  private async signalLocked(container: Container, signal: number | string): Promise<void> {
    const task = this.ctx.tasks.get(container.Id);
    if (!task) return;
    if (container.State.Status === 'paused') await task.resume().catch(() => undefined);
    await task.kill(signal).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /** Sends a signal; SIGKILL also waits until the exit is recorded, as in Docker. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const number = parseSignal(signal);
    let exited: Promise<void> | undefined;
    await this.ctx.lock.run(this.ctx.get(ref).Id, async () => {
      const container = this.ctx.get(ref);
      if (container.State.Status === 'paused') {
        throw conflict(`Cannot kill container: ${ref}: Container ${container.Id} is paused. Unpause the container before stopping or killing`);
      }
      if (container.State.Status !== 'running') {
        throw conflict(`Cannot kill container: ${ref}: Container ${container.Id} is not running`);
      }
      // Docker: a container the user signalled is not restarted by its restart policy.
      await this.markManuallyStoppedLocked(container);
      const recorded = number === 9 ? this.exits.exitRecorded(container.Id) : undefined;
      await this.ctx
        .task(container.Id)
        .kill(number)
        .catch((err: unknown) => {
          // Its process has just exited (the exit is on its way to being recorded), as moby treats it.
          if (isNotFound(err)) return;
          throw new EngineError(errorKind(err) ?? 'Internal', `Cannot kill container: ${ref}: ${messageOf(err)}`, { cause: err });
        });
      if (number === 9) exited = recorded;
      this.ctx.publish('kill', container, { signal: String(number) });
    });
    await exited;
  }

  async restart(ref: string, options: StopOptions = {}): Promise<void> {
    const container = this.ctx.get(ref);
    if (isLive(container)) {
      await this.stop(container.Id, options);
    }
    await this.start(container.Id);
    this.ctx.publish('restart', container);
  }

  async pause(ref: string): Promise<void> {
    await this.ctx.lock.run(this.ctx.get(ref).Id, async () => {
      const container = this.ctx.get(ref);
      if (container.State.Status === 'paused') throw conflict(`Container ${container.Id} is already paused`);
      if (container.State.Status !== 'running') throw conflict(`Container ${container.Id} is not running`);
      await this.ctx.task(container.Id).pause();
      container.State = { ...container.State, Status: 'paused' };
      await this.ctx.deps.store.save(container as ContainerRecord);
      this.ctx.publish('pause', container);
    });
  }

  /**
   * Pauses a container for a commit when it runs; resolves whether it did (the commit then
   * unpauses it). Like dockerd, a commit works on a container in any state: one that is not
   * running, or is paused by its user, is committed as it is, and so is one whose process has
   * just exited (runc cannot pause it, and its exit is not recorded yet). A marker file is
   * written before pausing, so a daemon killed before it unpauses finds it on restore and
   * unpauses (see ContainerRestore).
   */
  async pauseForCommit(ref: string): Promise<boolean> {
    const id = this.ctx.get(ref).Id;
    const attempt = await this.ctx.lock.run(id, async (): Promise<{ paused: boolean; failed?: { err: unknown; task: Task } }> => {
      const container = this.ctx.get(id);
      const task = this.ctx.tasks.get(id);
      if (container.State.Status !== 'running' || !task) return { paused: false };
      const marker = this.ctx.pausedByBerthFile(id);
      await fs.writeFile(marker, 'commit\n');
      try {
        await task.pause();
      } catch (err) {
        await fs.rm(marker, { force: true });
        return { paused: false, failed: { err, task } };
      }
      container.State = { ...container.State, Status: 'paused' };
      await this.ctx.deps.store.save(container as ContainerRecord);
      this.ctx.publish('pause', container);
      return { paused: true };
    });
    if (attempt.failed) {
      // A process that exited has no freezer left to enter; its monitor reports the exit at
      // once. Any other refusal of the pause is the commit's error.
      let timer: NodeJS.Timeout | undefined;
      const exited = await Promise.race([
        attempt.failed.task.wait().then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), EXITING_GRACE_MS))),
      ]).finally(() => clearTimeout(timer));
      if (!exited) throw attempt.failed.err;
      this.ctx.deps.logger.debug('commit: the process exited before it could be paused', { id, error: messageOf(attempt.failed.err) });
    }
    return attempt.paused;
  }

  async unpause(ref: string, options: { forCommit?: boolean } = {}): Promise<void> {
    await this.ctx.lock.run(this.ctx.get(ref).Id, async () => {
      const container = this.ctx.get(ref);
      if (container.State.Status !== 'paused') throw conflict(`Container ${container.Id} is not paused`);
      await this.ctx.task(container.Id).resume();
      container.State = { ...container.State, Status: 'running' };
      await this.ctx.deps.store.save(container as ContainerRecord);
      if (options.forCommit) await fs.rm(this.ctx.pausedByBerthFile(container.Id), { force: true });
      this.ctx.publish('unpause', container);
    });
  }

  // ---- remove / rename / update -------------------------------------------------------

  async remove(ref: string, options: RemoveOptions = {}): Promise<void> {
    const container = this.ctx.get(ref);
    const removing = await this.ctx.lock.run(container.Id, async () => {
      const current = this.ctx.deps.store.find(container.Id) as Container | undefined;
      if (!current || !isLive(current)) return undefined;
      if (!options.force) {
        throw conflict(
          `You cannot remove a ${current.State.Status} container ${current.Id}. ${current.State.Status === 'paused' ? 'Unpause and then stop' : 'Stop'} the container before attempting removal or force remove`,
        );
      }
      const recorded = this.exits.exitRecorded(current.Id);
      await this.markManuallyStoppedLocked(current);
      await this.signalLocked(current, 'SIGKILL').catch((err: unknown) => {
        throw new EngineError(errorKind(err) ?? 'Internal', `Could not kill running container ${current.Id}, cannot remove - ${messageOf(err)}`, { cause: err });
      });
      return { recorded }; // wrapped: the exit is waited for outside the lock
    });
    await removing?.recorded;
    await this.ctx.lock.run(container.Id, () => this.removeLocked(container.Id, undefined, { volumes: options.volumes }));
  }

  /**
   * `latest`: the caller's newer copy (an exit it did not save), for the events and waiters.
   * `volumes` (rm -v; always for --rm containers, as in Docker): its anonymous volumes go too.
   */
  async removeLocked(id: string, latest?: Container, options: { volumes?: boolean } = {}): Promise<void> {
    const container = latest ?? (this.ctx.deps.store.find(id) as Container | undefined);
    if (!container) return;
    this.fresh.delete(id);
    await this.exits.cancelRestart(container);
    const { runtime, rootfs, store } = this.ctx.deps;
    const phases = this.ctx.phases;
    // A --rm container's removal need not be durable: one a machine crash brings back is removed at start.
    const durable = !container.HostConfig.AutoRemove;
    // The network (ports, addresses: a next run may ask for the same), the root and the record
    // go before the removal is answered; the rest of the task (runc state, cgroups, its
    // monitor, task dir: nothing the API shows, ~5-12 ms) at the same time, answered or not,
    // still under the container's lock. A failure leaves the record, so the removal can be
    // tried again.
    await rootfs.unmount(id);
    const releasing = runtime.releaseNetwork?.(id).catch((err: unknown) => this.ctx.deps.logger.warn('releasing the network failed', { id, error: messageOf(err) }));
    const deleting = runtime.delete(id, undefined, { keepNetwork: releasing !== undefined }).then(
      () => phases.mark(id, 'task-deleted'),
      () => undefined,
    );
    await Promise.all([releasing ?? deleting, rootfs.remove(id, { durable }).then(() => phases.mark(id, 'root-removed'))]);
    await store.delete(id, { durable });
    phases.mark(id, 'record-deleted');
    this.ctx.publish('destroy', container);
    if (options.volumes || container.HostConfig.AutoRemove) await this.removeAnonymousVolumes(container);
    this.exits.notifyWaiters(container, 'removed');
    phases.mark(id, 'answered');
    await deleting;
    phases.end(id, 'removed', this.ctx.deps.logger);
  }

  /** A removed container's anonymous volumes; one another container also mounts stays (moby ignores the conflict). */
  private async removeAnonymousVolumes(container: Container): Promise<void> {
    const { volumes, events, logger } = this.ctx.deps;
    const names = Object.values(container.AnonymousVolumes ?? {});
    if (names.length === 0) return;
    const others = this.ctx.list().filter((c) => c.Id !== container.Id);
    const removed = await removeVolumes(names, volumes, (name) => containersUsingVolume(others, name)).catch((err: unknown) => {
      logger.warn('removing anonymous volumes failed', { id: container.Id, error: messageOf(err) });
      return [];
    });
    for (const name of removed) events.publish('volume', 'destroy', name, { driver: 'local' });
  }

  async rename(ref: string, newName: string): Promise<void> {
    const name = validateContainerName(newName);
    const { store } = this.ctx.deps;
    await this.ctx.lock.run(this.ctx.get(ref).Id, async () => {
      const container = this.ctx.get(ref);
      if (name === container.Name) throw conflict(`Renaming a container with the same name as its current name`);
      const old = container.Name;
      store.reserveName(name, container.Id);
      container.Name = name;
      try {
        await store.save(container as ContainerRecord);
      } catch (err) {
        container.Name = old;
        store.releaseName(name, container.Id);
        throw err;
      }
      store.releaseName(old, container.Id);
      this.ctx.publish('rename', container, { oldName: old });
    });
  }

  /** Changes resource limits (and the restart policy); a running container gets them at once. */
  async update(ref: string, body: ContainerUpdateRequest): Promise<{ Warnings: string[] }> {
    return this.ctx.lock.run(this.ctx.get(ref).Id, async () => {
      const container = this.ctx.get(ref);
      // As dockerd: the request is checked, then merged (zeros leave a setting as it is).
      const request: ContainerUpdateRequest = { ...body };
      // 0 or -1 lifts the pids limit (the checks read it as "unset", an update as "unlimited").
      const liftsPidsLimit = body.PidsLimit !== undefined && body.PidsLimit !== null && body.PidsLimit <= 0;
      const warnings = verifyUpdateSettings(request);
      if (liftsPidsLimit) request.PidsLimit = 0;
      validateRestartPolicy(request.RestartPolicy);
      const updated = mergeUpdate(container.Id, container.HostConfig, request);
      if (isLive(container)) {
        const resources = buildResources(resourceConfig(updated));
        // A pids limit lifted (-1 or 0) is unlimited at once, not left as it was.
        if (liftsPidsLimit) resources.pids = { limit: -1 };
        await this.ctx.task(container.Id).update(resources);
      }
      container.HostConfig = updated;
      await this.ctx.deps.store.save(container as ContainerRecord);
      this.ctx.publish('update', container);
      return { Warnings: warnings };
    });
  }
}
