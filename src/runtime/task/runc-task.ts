import * as path from 'node:path';
import { MonitorConnection } from '../monitor/client';
import { readLogBatches, type LogLine, type ReadLogOptions } from '../monitor/log-reader';
import type { ExitStatus } from '../monitor/protocol';
import type { CreateTaskOptions, RuncDriver, TaskPaths } from '../driver/runc-driver';
import type { OciProcess, OciResources, OciSpec } from '../spec/oci-types';
import { readCgroupStats } from './cgroup-stats';
import { isNotFound } from '../../errors';
import { parseSignal } from '../driver/signals';

const SIGKILL = 9;
import {
  defaultNetworkHook,
  type CallOptions,
  type CreateTaskRequest,
  type ExecProcess,
  type LoadTaskRequest,
  type NetworkHook,
  type Task,
  type TaskRuntime,
  type TaskStats,
  type TaskStream,
} from './types';

/** The exit file's name in a task dir (exec root, tmpfs): the monitor's record of the exit. */
export const EXIT_FILE = 'exit.json';

/**
 * Tasks run by runc, each under a berth-monitor (src/runtime/driver/runc-driver.ts does the
 * runc and monitor plumbing). The daemon keeps one control connection per task: START goes
 * over it, and its EXITED frame resolves wait().
 */
export class RuncTaskRuntime implements TaskRuntime {
  /** Deletes in flight (a removal answers before its task's cleanup is done; shutdown waits for them). */
  private readonly deleting = new Set<Promise<void>>();

  constructor(
    private readonly driver: RuncDriver,
    private readonly network: NetworkHook = defaultNetworkHook,
  ) {}

  get name(): string {
    return this.driver.flavor;
  }

  /** Where a container task's monitor writes its exit status. */
  exitFile(id: string): string {
    return path.join(this.driver.taskDir(id), EXIT_FILE);
  }

  /** The monitor's settings for a task: prestart and create must agree on them for create to take the prestarted monitor over. */
  private monitorSettings(request: Omit<CreateTaskRequest, 'spec'>): Omit<CreateTaskOptions, 'spec'> {
    return {
      id: request.id,
      bundleDir: request.bundleDir,
      tty: request.tty,
      openStdin: request.openStdin,
      logPath: request.log?.path,
      logMaxSize: request.log?.maxSize,
      logMaxFiles: request.log?.maxFiles,
      exitFile: this.exitFile(request.id),
      ...(request.volatile ? { volatile: true } : {}),
    };
  }

  prestart(request: Omit<CreateTaskRequest, 'spec'> & { cgroupsPath: string }, idleMs?: number): void {
    this.driver.prestartMonitor({ ...this.monitorSettings(request), cgroupsPath: request.cgroupsPath }, idleMs);
  }

  async quiesce(): Promise<void> {
    await Promise.all(this.deleting);
    await this.driver.stopPrestartedMonitors();
  }

  async create(request: CreateTaskRequest): Promise<Task> {
    // The networking seam: before the spec is written, the hook may hand in a netns to join.
    const { netnsPath } = await this.network.prepare({ id: request.id, spec: request.spec });
    const spec = netnsPath ? joinNetworkNamespace(request.spec, netnsPath) : request.spec;
    const paths = await this.driver.create({ ...this.monitorSettings(request), spec });
    return new RuncTask(request.id, this.driver, paths, await MonitorConnection.connect(paths.socketPath));
  }

  async load(request: LoadTaskRequest): Promise<{ task: Task } | { exited: ExitStatus | undefined }> {
    const paths = this.driver.containerPaths(request.id, request.bundleDir, request.tty, this.exitFile(request.id));
    let control: MonitorConnection;
    try {
      control = await MonitorConnection.connect(paths.socketPath);
    } catch {
      return { exited: await this.readExit(request.id) };
    }
    return { task: new RuncTask(request.id, this.driver, paths, control) };
  }

  readExit(id: string): Promise<ExitStatus | undefined> {
    return this.driver.readExitFile(this.exitFile(id));
  }

  delete(id: string, call?: CallOptions, options: { keepNetwork?: boolean } = {}): Promise<void> {
    const deleting: Promise<void> = (async () => {
      await this.driver.delete(id, call);
      if (!options.keepNetwork) await this.network.release(id);
    })();
    const tracked = deleting.catch(() => undefined).finally(() => this.deleting.delete(tracked));
    this.deleting.add(tracked);
    return deleting;
  }

  orphanTaskIds(containers: Iterable<string>): Promise<string[]> {
    return this.driver.orphanTaskIds(containers);
  }

  releaseNetwork(id: string): Promise<void> {
    return this.network.release(id);
  }

  logs(logPath: string, options: ReadLogOptions = {}): AsyncIterable<LogLine[]> {
    return readLogBatches(logPath, options);
  }
}

/** The spec with its network namespace replaced by the one at `netnsPath`. */
function joinNetworkNamespace(spec: OciSpec, netnsPath: string): OciSpec {
  const namespaces = (spec.linux?.namespaces ?? []).filter((ns) => ns.type !== 'network');
  return { ...spec, linux: { ...spec.linux, namespaces: [...namespaces, { type: 'network', path: netnsPath }] } };
}

/** What the monitor said on exit, or its exit file when the connection dropped first. */
function exitOf(driver: RuncDriver, control: MonitorConnection, exitFile: string | undefined, isClosed: () => boolean): Promise<ExitStatus | undefined> {
  return new Promise((resolve) => {
    control.waitExited().then(resolve, async () => {
      if (isClosed()) return; // let go of on purpose (daemon shutdown): stays pending
      resolve(exitFile ? await driver.readExitFile(exitFile).catch(() => undefined) : undefined);
    });
  });
}

class RuncTask implements Task {
  private closed = false;
  private readonly exit: Promise<ExitStatus | undefined>;

  constructor(
    readonly id: string,
    private readonly driver: RuncDriver,
    private readonly paths: TaskPaths,
    private readonly control: MonitorConnection,
  ) {
    this.exit = exitOf(driver, control, paths.exitFile, () => this.closed);
  }

  async start(call?: CallOptions): Promise<{ pid: number }> {
    return this.driver.start(this.id, this.paths, this.control, call);
  }

  wait(): Promise<ExitStatus | undefined> {
    return this.exit;
  }

  async attach(): Promise<TaskStream> {
    return MonitorConnection.connect(this.paths.socketPath);
  }

  resize(rows: number, cols: number): void {
    this.control.resize(rows, cols);
  }

  /** SIGKILL works without runc too: when runc fails or hangs, init is killed directly. */
  async kill(signal: string | number, options?: { all?: boolean } & CallOptions): Promise<void> {
    try {
      await this.driver.kill(this.id, signal, options);
    } catch (err: unknown) {
      if (isNotFound(err) || parseSignal(signal) !== SIGKILL || !(await this.driver.killDirectly(this.id))) throw err;
    }
  }

  pause(call?: CallOptions): Promise<void> {
    return this.driver.pause(this.id, call);
  }

  resume(call?: CallOptions): Promise<void> {
    return this.driver.resume(this.id, call);
  }

  update(resources: OciResources, call?: CallOptions): Promise<void> {
    return this.driver.update(this.id, resources, call);
  }

  top(call?: CallOptions): Promise<number[]> {
    return this.driver.top(this.id, call);
  }

  stats(): Promise<TaskStats> {
    return readCgroupStats(path.join(this.driver.runc.root, this.id), this.id);
  }

  async exec(execId: string, process: OciProcess, options: { tty: boolean; openStdin: boolean }): Promise<ExecProcess> {
    const paths = await this.driver.exec(this.id, execId, process, options);
    return new RuncExecProcess(execId, this.id, this.driver, paths);
  }

  close(): void {
    this.closed = true;
    this.control.close();
  }
}

class RuncExecProcess implements ExecProcess {
  private control?: MonitorConnection;
  private deleted = false;
  private readonly exit: Promise<ExitStatus | undefined>;
  private watch!: (control: MonitorConnection) => void;

  constructor(
    readonly id: string,
    private readonly containerId: string,
    private readonly driver: RuncDriver,
    private readonly paths: TaskPaths,
  ) {
    this.exit = new Promise((resolve) => {
      this.watch = (control) => void exitOf(driver, control, paths.exitFile, () => this.deleted).then(resolve);
    });
  }

  async attach(): Promise<TaskStream> {
    return MonitorConnection.connect(this.paths.socketPath);
  }

  /**
   * The control connection opens here, after the caller's attach streams: the monitor sends
   * EXITED to its newest client first, so the exit is known (exec inspect's ExitCode) before
   * an attached client sees its stream end and asks for it.
   */
  async start(call?: CallOptions): Promise<{ pid: number }> {
    const control = await MonitorConnection.connect(this.paths.socketPath);
    this.control = control;
    this.watch(control);
    return this.driver.start(this.containerId, this.paths, control, call);
  }

  /** Pending until start(). */
  wait(): Promise<ExitStatus | undefined> {
    return this.exit;
  }

  resize(rows: number, cols: number): void {
    this.control?.resize(rows, cols);
  }

  async delete(): Promise<void> {
    this.deleted = true;
    this.control?.close();
    await this.driver.removeExec(this.containerId, this.id);
  }
}
