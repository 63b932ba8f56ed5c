import { ociJson, type OciResources } from '../spec/oci-types';
import { mkdirSync, promises as fs, rmSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readJsonIfExists, writeFileAtomic } from '../../util/atomic-fs';
import { Logger, silentLogger } from '../../util/logger';
import { internal, invalidArgument, isNotFound, messageOf, unavailable } from '../../errors';
import { DEFAULT_RUNC_TIMEOUT_MS, Runc, RuncCallOptions, readRuntimeError } from '../runc/runc';
import { spawnMonitor, type SpawnMonitorOptions } from '../monitor/spawn-monitor';
import { SealedRuntime } from '../runc/sealed-runtime';
import { crunHiddenFile, type RuntimeFlavor } from '../runc/runtime-flavor';
import { MonitorConnection } from '../monitor/client';
import type { ExitStatus } from '../monitor/protocol';
import type { OciProcess, OciSpec } from '../spec/oci-types';
import { runtimeStartError } from './runtime-start-error';
import { parseSignal } from './signals';
import { findMonitors, killMonitors, MONITOR_PID_FILE } from './monitor-processes';
import { memoryCgroupDir, taskMemoryCgroupDir } from './memory-cgroup';
import { killCgroupProcesses, killInitProcess, removeStoppedTaskState } from './stopped-task-cleanup';
import { removeTree } from '../../util/remove-tree';
import { readTaskStateFile } from '../runc/task-state-file';

/** Unix socket paths must fit in sun_path (108 bytes) with room for <id12>/<exec12>/console.sock. */
const MAX_EXEC_ROOT_LENGTH = 60;
const SHORT_ID_LENGTH = 12;
/** How long delete waits for a started task's monitor to record the exit before killing it. */
const MONITOR_EXIT_GRACE_MS = 2000;
/** How long a delete whose runc failed waits for the killed init to be reaped before cleaning up after it. */
const REAP_WAIT_MS = 2000;
/** How long delete polls for started monitors' sockets to vanish before looking them up by pid file. */
const SOCKET_VANISH_WAIT_MS = 100;

/** Where a task's (container's or exec's) monitor and runtime files live. */
export interface TaskPaths {
  kind: 'container' | 'exec';
  /** The task's dir under execRoot. */
  dir: string;
  /** The monitor's attach socket. */
  socketPath: string;
  /** runc --pid-file (the monitor reads the pid from it). */
  pidFile: string;
  /** The monitor's own pid, written by it while it lives. */
  monitorPidFile: string;
  /** Set for a TTY task: runc sends the pty master here. */
  consoleSocketPath?: string;
  /** runc --log (JSON), read back on a start failure. */
  runtimeLogFile: string;
  /** The monitor writes the ExitStatus JSON here. */
  exitFile?: string;
}

export interface CreateTaskOptions {
  id: string;
  bundleDir: string;
  spec: OciSpec;
  tty: boolean;
  openStdin: boolean;
  /** Container log written by the monitor; unset: output is not logged (log driver "none"). */
  logPath?: string;
  /** Rotate the log at this size in bytes (max-size); unset: no limit. */
  logMaxSize?: number;
  /** Files kept with rotation, the current one included (max-file). */
  logMaxFiles?: number;
  exitFile: string;
  /** Nothing of the task outlives a machine crash: the monitor does not fsync its exit file or log. */
  volatile?: boolean;
}

export interface ExecTaskOptions {
  tty: boolean;
  openStdin: boolean;
}

export interface RuncDriverOptions {
  /** runc --root. */
  runtimeRoot: string;
  /** Short dir for sockets and pid files (keep < 60 chars). */
  execRoot: string;
  logger?: Logger;
  runcBinary?: string;
  /** The longest a runc call may take (default: the wrapper's). */
  runcTimeoutMs?: number;
  /** Monitors exec runc from one sealed in-memory copy of it (runc/sealed-runtime.ts); default true. */
  sealedRuntime?: boolean;
}

const shortId = (id: string) => id.slice(0, SHORT_ID_LENGTH);
/** A container id (runc state dir names) and its short form (task dir names). */
const FULL_ID = /^[0-9a-f]{64}$/;
const SHORT_ID = new RegExp(`^[0-9a-f]{${SHORT_ID_LENGTH}}$`);

interface PrestartedMonitor {
  key: string;
  ready: Promise<void>;
  idleTimer?: NodeJS.Timeout;
}

/**
 * runc's Go runtime on one P: runc run/exec and runc init work sequentially, and each extra
 * thread's pages fault in (~100 faults and ~4 ms of CPU less per `runc run` here, 41
 * interleaved runs). runc 1.1 hands GOMAXPROCS on to runc init. An admin's GOMAXPROCS wins.
 */
const RUNC_ENV = process.env.GOMAXPROCS === undefined ? ['GOMAXPROCS=1'] : [];

/**
 * Runs containers with runc, one berth-monitor per container or exec. Lifecycle:
 * create (bundle written, monitor waiting) → start (START frame; runc runs) → kill /
 * pause / resume / exec while running → delete (runc state and task dir gone).
 * The monitor, not this process, is the container's parent, so containers outlive a
 * daemon restart; every method works from the id alone after one.
 */
export class RuncDriver {
  readonly runc: Runc;
  private readonly execRoot: string;
  private readonly logger: Logger;
  private readonly startTimeoutMs: number;
  /**
   * Monitors started ahead of create (prestartMonitor), by container id, with the settings
   * they were started for. One left idle too long is killed: its key becomes '' (matches no
   * settings) and `ready` also covers the kill, so a create or delete after it waits for it.
   */
  private readonly prestarted = new Map<string, PrestartedMonitor>();
  private readonly sealedRuntime: SealedRuntime | undefined;
  /** The runtime's environment and the file it must see empty (crun on a hybrid cgroup host). */
  private readonly runtimeEnv: string[];
  private readonly runtimeHide: string | undefined;

  constructor(opts: RuncDriverOptions) {
    if (opts.execRoot.length > MAX_EXEC_ROOT_LENGTH) {
      throw invalidArgument(`execRoot ${opts.execRoot} is too long for unix socket paths (max ${MAX_EXEC_ROOT_LENGTH} chars)`);
    }
    this.execRoot = opts.execRoot;
    this.logger = opts.logger ?? silentLogger;
    this.startTimeoutMs = opts.runcTimeoutMs ?? DEFAULT_RUNC_TIMEOUT_MS;
    this.runc = new Runc({ binary: opts.runcBinary, root: opts.runtimeRoot, logger: this.logger, timeoutMs: opts.runcTimeoutMs });
    this.sealedRuntime = opts.sealedRuntime === false ? undefined : new SealedRuntime(this.runc.binary, this.logger);
    this.runtimeEnv = this.flavor === 'runc' ? RUNC_ENV : [];
    this.runtimeHide = this.flavor === 'crun' ? crunHiddenFile() : undefined;
  }

  get flavor(): RuntimeFlavor {
    return this.runc.flavor;
  }

  /**
   * Spawns a monitor for the runtime, handing it the sealed copy of the runtime when there is
   * one, its environment, and (for a create) the file it must see empty.
   */
  private async spawnRuntimeMonitor(monitor: SpawnMonitorOptions, creates: boolean): Promise<void> {
    const lease = await this.sealedRuntime?.acquire();
    try {
      const hide = creates && this.runtimeHide !== undefined ? { runtimeHide: this.runtimeHide } : {};
      await spawnMonitor({ ...monitor, runtimeEnv: this.runtimeEnv, ...hide, ...(lease ? { runtimeFd: lease.fd } : {}) });
    } finally {
      lease?.release();
    }
  }

  /** The task dir for a container, or for one of its execs. */
  taskDir(containerId: string, execId?: string): string {
    const base = path.join(this.execRoot, shortId(containerId));
    return execId ? path.join(base, shortId(execId)) : base;
  }

  private taskPaths(kind: TaskPaths['kind'], dir: string, tty: boolean, runtimeLogFile: string, exitFile?: string): TaskPaths {
    const paths: TaskPaths = {
      kind,
      dir,
      socketPath: path.join(dir, 'attach.sock'),
      pidFile: path.join(dir, 'pid'),
      monitorPidFile: path.join(dir, MONITOR_PID_FILE),
      runtimeLogFile,
    };
    if (tty) paths.consoleSocketPath = path.join(dir, 'console.sock');
    if (exitFile) paths.exitFile = exitFile;
    return paths;
  }

  /** Paths of an existing container task, from its id alone (e.g. after a daemon restart). */
  containerPaths(id: string, bundleDir: string, tty: boolean, exitFile?: string): TaskPaths {
    return this.taskPaths('container', this.taskDir(id), tty, path.join(bundleDir, 'runc.log'), exitFile);
  }

  /**
   * Starts the container's monitor ahead of create(), while the caller mounts the root and
   * builds the spec: it waits for START and needs neither. create() with the same settings
   * takes it over; delete() (or a create with other settings) kills it. `cgroupsPath` is the
   * spec's, for the OOM counter.
   */
  prestartMonitor(opts: Omit<CreateTaskOptions, 'spec'> & { cgroupsPath: string }, idleMs?: number): void {
    const { paths, monitor } = this.monitorPlan(opts, opts.cgroupsPath);
    const ready = (async () => {
      // The bundle dir is the monitor's working directory.
      mkdirSync(opts.bundleDir, { recursive: true });
      await this.resetTaskDir(paths);
      await this.spawnRuntimeMonitor(monitor, true);
    })();
    ready.catch(() => undefined); // awaited by create or delete
    const entry: PrestartedMonitor = { key: JSON.stringify(monitor), ready };
    if (idleMs !== undefined) {
      entry.idleTimer = setTimeout(() => {
        if (this.prestarted.get(opts.id) !== entry) return;
        entry.key = '';
        entry.ready = ready.catch(() => undefined).then(() => this.stopIdleMonitors(paths.dir));
        entry.ready.catch((err: unknown) => this.logger.warn('cannot stop an idle monitor', { id: opts.id, error: messageOf(err) }));
      }, idleMs);
      entry.idleTimer.unref();
    }
    this.prestarted.set(opts.id, entry);
  }

  /** The prestarted entry of a container, taken out of the map (create and delete take it over). */
  private takePrestarted(id: string): PrestartedMonitor | undefined {
    const entry = this.prestarted.get(id);
    this.prestarted.delete(id);
    if (entry?.idleTimer) clearTimeout(entry.idleTimer);
    return entry;
  }

  /** Kills every monitor started ahead and not taken over (daemon shutdown: they would wait for a START that never comes). */
  async stopPrestartedMonitors(): Promise<void> {
    const ids = [...this.prestarted.keys()];
    await Promise.all(
      ids.map(async (id) => {
        const entry = this.takePrestarted(id);
        await entry?.ready.catch(() => undefined);
        await this.stopIdleMonitors(this.taskDir(id)).catch(() => undefined);
      }),
    );
  }

  /** Writes config.json and spawns the container's monitor (or takes over the prestarted one), which waits for START. */
  async create(opts: CreateTaskOptions): Promise<TaskPaths> {
    const { paths, monitor } = this.monitorPlan(opts, opts.spec.linux?.cgroupsPath);
    mkdirSync(opts.bundleDir, { recursive: true });
    // Rewritten before every run and read only by the runc the monitor runs at START: no fsync needed.
    const writeConfig = () => writeFileAtomic(path.join(opts.bundleDir, 'config.json'), ociJson(opts.spec), 0o644, { durable: false });
    const prestarted = this.takePrestarted(opts.id);
    if (prestarted?.key === JSON.stringify(monitor)) {
      await Promise.all([writeConfig(), prestarted.ready]);
      return paths;
    }
    if (prestarted) {
      // Started for other settings: it never ran anything, so it goes (it would wait forever).
      await prestarted.ready.catch(() => undefined);
      await this.stopIdleMonitors(paths.dir);
    }
    // The task dir (exec root) is reset meanwhile; the exit file is one of its files.
    await Promise.all([writeConfig(), this.resetTaskDir(paths)]);
    this.logger.debug('spawning container monitor', { id: opts.id, runtimeArgv: monitor.runtimeArgv });
    await this.spawnRuntimeMonitor(monitor, true);
    return paths;
  }

  /** The task's paths and its monitor's settings (which run `runc run -d`, or `crun create` then `crun start`, at START). */
  private monitorPlan(opts: Omit<CreateTaskOptions, 'spec'>, cgroupsPath: string | undefined): { paths: TaskPaths; monitor: SpawnMonitorOptions } {
    const paths = this.containerPaths(opts.id, opts.bundleDir, opts.tty, opts.exitFile);
    const run = { bundle: opts.bundleDir, pidFile: paths.pidFile, consoleSocket: paths.consoleSocketPath, logFile: paths.runtimeLogFile };
    const runtimeArgv = this.flavor === 'crun' ? this.runc.createThenStartArgv(opts.id, run) : this.runc.runArgv(opts.id, { ...run, detach: true });
    const monitor: SpawnMonitorOptions = {
      socketPath: paths.socketPath,
      logPath: opts.logPath,
      logMaxSize: opts.logMaxSize,
      logMaxFiles: opts.logMaxFiles,
      exitFile: opts.exitFile,
      pidFile: paths.pidFile,
      monitorPidFile: paths.monitorPidFile,
      oomCgroup: memoryCgroupDir(cgroupsPath),
      tty: opts.tty,
      consoleSocketPath: paths.consoleSocketPath,
      stdin: opts.openStdin,
      waitStart: true,
      ...(opts.volatile ? { volatile: true } : {}),
      runtimeArgv,
      cwd: opts.bundleDir,
    };
    return { paths, monitor };
  }

  /**
   * Sends START and waits for the process to run. On a runtime failure, throws a
   * RuntimeStartError with Docker's message ("OCI runtime create failed: ...").
   * Pass `connection` to reuse an attach connection opened before start, so no output is missed.
   */
  async start(id: string, paths: TaskPaths, connection?: MonitorConnection, call: RuncCallOptions = {}): Promise<{ pid: number }> {
    const conn = connection ?? (await MonitorConnection.connect(paths.socketPath));
    try {
      conn.start();
      const pid = await bounded(conn.waitStarted(), call.timeoutMs ?? this.startTimeoutMs, call.signal, `runc did not start ${id}`);
      return { pid };
    } catch (err: unknown) {
      // runc exec may have started the process before it hung: it must not run on unknown.
      if (paths.kind === 'exec') await this.killExecProcess(id, paths.pidFile);
      const logged = await readRuntimeError(paths.runtimeLogFile);
      const phase = paths.kind === 'exec' ? 'exec' : 'create';
      this.logger.debug('runtime start failed', { id, error: messageOf(err), logged });
      throw runtimeStartError(phase, logged ?? messageOf(err), err);
    } finally {
      if (!connection) conn.close();
    }
  }

  /** SIGKILLs the process a failed `runc exec` left, if its pid file names one in the container's cgroup. */
  private async killExecProcess(containerId: string, pidFile: string): Promise<void> {
    const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!(pid > 0)) return;
    const killed = await killCgroupProcesses(path.join(this.runc.root, containerId), (candidate) => candidate === pid);
    if (killed > 0) this.logger.warn('killed the process of an exec that failed to start', { id: containerId, pid });
  }

  /** A new client connection to the container's monitor (stdio, resize, exit). */
  attach(id: string, execId?: string): Promise<MonitorConnection> {
    return MonitorConnection.connect(path.join(this.taskDir(id, execId), 'attach.sock'));
  }

  async kill(id: string, signal: string | number, opts: { all?: boolean } & RuncCallOptions = {}): Promise<void> {
    await this.runc.kill(id, parseSignal(signal), opts);
  }

  /** Applies new cgroup limits to a running container. */
  async update(id: string, resources: OciResources, call?: RuncCallOptions): Promise<void> {
    const unlimitedPids = this.flavor === 'crun' && resources.pids !== undefined && resources.pids.limit < 0;
    if (!unlimitedPids) return this.runc.update(id, resources, call);
    // crun 1.8 writes -1 to pids.max as a number, which the kernel refuses: "max" is written here.
    const { pids: _unlimited, ...rest } = resources;
    if (Object.keys(rest).length > 0) await this.runc.update(id, rest, call);
    const dirs = (await readTaskStateFile(path.join(this.runc.root, id)))?.cgroupPaths ?? {};
    const dir = dirs.pids ?? dirs[''];
    if (dir === undefined) throw internal(`no pids cgroup for ${id}`);
    await fs.writeFile(path.join(dir, 'pids.max'), 'max');
  }

  pause(id: string, call?: RuncCallOptions): Promise<void> {
    return this.runc.pause(id, call);
  }

  resume(id: string, call?: RuncCallOptions): Promise<void> {
    return this.runc.resume(id, call);
  }

  /** Host pids of the container's processes. */
  top(id: string, call?: RuncCallOptions): Promise<number[]> {
    return this.runc.ps(id, call);
  }

  /**
   * runc delete --force, then the task dir. Idempotent: a missing container is fine.
   * Monitors that never ran their runtime (created, never started) wait forever, so
   * they are killed; the others exit by themselves once their process is gone.
   */
  async delete(id: string, call?: RuncCallOptions): Promise<void> {
    // A monitor started ahead and never taken over: once its spawn is done, it is an idle one below.
    const prestarted = this.takePrestarted(id);
    await prestarted?.ready.catch(() => undefined);
    // Spawning runc costs 10-17 ms; without a state dir it would only say "does not exist"
    // (a container never started, or already deleted after its exit), and for a plainly
    // exited container the cleanup is done in-process.
    let runtimeFailure: unknown;
    if ((await this.runc.hasState(id)) && !(await removeStoppedTaskState(path.join(this.runc.root, id)))) {
      try {
        await this.runc.delete(id, { force: true, ...call });
      } catch (err: unknown) {
        if (!isNotFound(err)) runtimeFailure = err;
      }
    }
    if (runtimeFailure !== undefined) {
      // runc failed or hung (and was killed): what it should have killed goes anyway, so no
      // container process outlives the task, and once its init is reaped its cgroups and
      // state go as after a plain exit (else the state dir stays for a later delete).
      const stateDir = path.join(this.runc.root, id);
      const killed = await killCgroupProcesses(stateDir);
      let cleaned = false;
      for (const deadline = Date.now() + REAP_WAIT_MS; !cleaned && Date.now() < deadline; await sleep(20)) {
        cleaned = await removeStoppedTaskState(stateDir);
      }
      this.logger.warn('runc delete failed; killed the container\'s processes directly', { id, killed, cleaned, error: messageOf(runtimeFailure) });
      if (cleaned) runtimeFailure = undefined;
    }
    const dir = this.taskDir(id);
    if (await pathExists(dir)) {
      await this.stopIdleMonitors(dir);
      await removeTree(dir);
    }
    if (runtimeFailure !== undefined) throw runtimeFailure;
  }

  /**
   * The ids of tasks no container in `containers` owns: runc state dirs (full ids) and task
   * dirs (short ids, returned as such), for the start-up sweep of what a daemon killed between
   * a removal's answer and its task delete left.
   */
  async orphanTaskIds(containers: Iterable<string>): Promise<string[]> {
    const owned = new Set<string>();
    for (const id of containers) owned.add(id).add(shortId(id));
    const [states, dirs] = await Promise.all([fs.readdir(this.runc.root).catch(() => [] as string[]), fs.readdir(this.execRoot).catch(() => [] as string[])]);
    const orphans = states.filter((name) => FULL_ID.test(name) && !owned.has(name));
    const orphanShortIds = new Set(orphans.map(shortId));
    return [...orphans, ...dirs.filter((name) => SHORT_ID.test(name) && !owned.has(name) && !orphanShortIds.has(name))];
  }

  /**
   * SIGKILLs the container's init without runc, for when runc itself fails or hangs (the
   * last resort of kill and stop, as moby's killProcessDirectly). False when it is not running.
   */
  killDirectly(id: string): Promise<boolean> {
    return killInitProcess(path.join(this.runc.root, id));
  }

  /**
   * Kills monitors under `dir` whose runtime never ran (no pid file beside their socket:
   * they would wait for START forever); started ones get a grace period to record the exit.
   * A monitor unlinks its socket on its way out, so a dir without sockets has none left
   * and needs no pid file lookup; a socket left by a killed monitor only costs the lookup.
   */
  private async stopIdleMonitors(dir: string): Promise<void> {
    const deadline = Date.now() + MONITOR_EXIT_GRACE_MS;
    const socketWaitEnd = Date.now() + SOCKET_VANISH_WAIT_MS;
    for (;;) {
      const sockets = await monitorSockets(dir);
      if (sockets.length === 0) return;
      // Started monitors that just sent EXITED are about to unlink their socket: a short wait beats a scan.
      const started = await Promise.all(sockets.map((s) => pathExists(path.join(path.dirname(s), 'pid'))));
      if (!started.every(Boolean) || Date.now() >= socketWaitEnd) break;
      await sleep(2);
    }
    for (;;) {
      const monitors = await findMonitors(dir);
      const idle: number[] = [];
      for (const m of monitors) {
        const started = await fs.access(path.join(path.dirname(m.socketPath), 'pid')).then(() => true, () => false);
        if (!started || Date.now() >= deadline) idle.push(m.pid);
      }
      if (idle.length) {
        this.logger.debug('killing idle monitors', { dir, pids: idle });
        await killMonitors(idle);
      }
      if (idle.length === monitors.length) return;
      await sleep(20);
    }
  }

  /** True while runc reports the container running or paused. */
  async isRunning(id: string): Promise<boolean> {
    try {
      const state = await this.runc.state(id);
      return state.status === 'running' || state.status === 'paused';
    } catch (err: unknown) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** The monitor's exit record, or undefined while the process runs (or never ran). */
  readExitFile(file: string): Promise<ExitStatus | undefined> {
    return readJsonIfExists<ExitStatus>(file);
  }

  /**
   * Prepares an exec: writes process.json and spawns a monitor waiting for START
   * (`runc exec --detach --process ...`). Start it with start(containerId, paths).
   */
  async exec(containerId: string, execId: string, processSpec: OciProcess, opts: ExecTaskOptions): Promise<TaskPaths> {
    const dir = this.taskDir(containerId, execId);
    const paths = this.taskPaths('exec', dir, opts.tty, path.join(dir, 'runc.log'), path.join(dir, 'exit.json'));
    await this.resetTaskDir(paths);
    const processJsonPath = path.join(dir, 'process.json');
    await writeFileAtomic(processJsonPath, ociJson({ ...processSpec, terminal: opts.tty }));
    const runtimeArgv = this.runc.execArgv(containerId, {
      processJsonPath,
      pidFile: paths.pidFile,
      consoleSocket: paths.consoleSocketPath,
      detach: true,
      logFile: paths.runtimeLogFile,
    });
    await this.spawnRuntimeMonitor({
      socketPath: paths.socketPath,
      exitFile: paths.exitFile,
      pidFile: paths.pidFile,
      monitorPidFile: paths.monitorPidFile,
      // The container's memory cgroup: an OOM kill during the exec is reported in its exit.
      oomCgroup: await taskMemoryCgroupDir(path.join(this.runc.root, containerId)),
      tty: opts.tty,
      consoleSocketPath: paths.consoleSocketPath,
      stdin: opts.openStdin,
      waitStart: true,
      runtimeArgv,
      cwd: dir,
    }, false);
    return paths;
  }

  /** Removes an exec's task dir once its exit has been recorded (killing its monitor if it never started). */
  async removeExec(containerId: string, execId: string): Promise<void> {
    if (!(await pathExists(this.taskDir(containerId, execId)))) return;
    await this.stopIdleMonitors(this.taskDir(containerId, execId));
    await removeTree(this.taskDir(containerId, execId));
  }

  /**
   * A fresh task dir: stale sockets from an earlier run would make the monitor's bind fail.
   * Synchronous: a few unlinks and a mkdir in the exec root, on every create (six thread-pool round trips otherwise).
   */
  private async resetTaskDir(paths: TaskPaths): Promise<void> {
    const stale = [paths.socketPath, paths.pidFile, paths.monitorPidFile, paths.consoleSocketPath, paths.runtimeLogFile, paths.exitFile];
    for (const f of stale) if (f) rmSync(f, { force: true });
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    if (paths.socketPath.length >= 108) throw internal(`socket path too long: ${paths.socketPath}`);
  }
}

/** `promise`, or an Unavailable error once `timeoutMs` passed or `signal` aborted. */
function bounded<T>(promise: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(unavailable(`${what} within ${timeoutMs} ms`))), timeoutMs);
    const onAbort = () => finish(() => reject(unavailable(`${what}: aborted`, signal?.reason)));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

async function pathExists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** The monitor sockets (attach.sock) in a task dir and in its exec dirs. */
async function monitorSockets(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const sockets: string[] = [];
  for (const entry of entries) {
    if (entry.name === 'attach.sock') sockets.push(path.join(dir, entry.name));
    else if (entry.isDirectory()) sockets.push(...(await monitorSockets(path.join(dir, entry.name))));
  }
  return sockets;
}
