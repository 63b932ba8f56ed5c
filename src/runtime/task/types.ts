import type { ExitStatus } from '../monitor/protocol';
import type { LogLine, ReadLogOptions } from '../monitor/log-reader';
import type { OciProcess, OciResources, OciSpec } from '../spec/oci-types';

/**
 * The runtime boundary: everything the engine does to a running process goes through a
 * Task (containerd's task model). The engine never speaks the monitor's frames, never
 * reads log bytes and never runs runc itself.
 *
 * Lifecycle of a container task:
 *
 *   TaskRuntime.create ──► created: the bundle is written and a monitor waits; nothing runs.
 *        │                 Attach now to miss no output (attach streams opened before start
 *        │                 see everything the process writes).
 *        │   NetworkHook.prepare runs inside create, before the spec is written: the seam
 *        │   where networking hands in a netns path (see NetworkHook).
 *        ▼
 *   Task.start ──────────► running (pid known). kill, pause/resume, exec, resize, stats,
 *        │                 update, top. A paused task is still running for wait().
 *        ▼
 *   process exits ──────► Task.wait() resolves with the ExitStatus the monitor wrote to its
 *        │                 exit file (the source of truth, kept until TaskRuntime.delete).
 *        ▼
 *   TaskRuntime.delete ──► runc state, cgroups, monitor and task dir gone. Idempotent, works
 *                          from the id alone (no Task object needed).
 *
 * The monitor, not the daemon, is the process's parent: a task outlives the daemon, and
 * TaskRuntime.load re-adopts it after a restart (or reports the exit that happened meanwhile).
 * Every call that runs runc is bounded by a timeout and takes an AbortSignal, so a hung runc
 * cannot hold a container's lock forever.
 */
export interface TaskRuntime {
  /** The runtime's name as Docker lists runtimes (`runc`, `crun`): a container's HostConfig.Runtime. */
  readonly name?: string;
  /** Writes the bundle and starts the task's monitor, which waits for start(). */
  create(request: CreateTaskRequest): Promise<Task>;
  /**
   * Optional: starts the task's monitor ahead of create(), so it gets ready while the caller
   * mounts the root and builds the spec (`cgroupsPath`: the one the spec will have). create()
   * with the same settings takes it over; call delete() if create() never comes. `idleMs`:
   * killed when create() has not come by then (create then starts a monitor of its own).
   */
  prestart?(request: Omit<CreateTaskRequest, 'spec'> & { cgroupsPath: string }, idleMs?: number): void;
  /** Optional, at daemon shutdown: waits for the deletes in flight and kills the monitors started ahead and not taken over. */
  quiesce?(): Promise<void>;
  /**
   * Re-adopts a task after a daemon restart. Resolves with the live task, or with its exit
   * status (read from the exit file) when its monitor is gone; `undefined` status when the
   * monitor left none (it was killed).
   */
  load(request: LoadTaskRequest): Promise<{ task: Task } | { exited: ExitStatus | undefined }>;
  /** The exit status a finished task left, or undefined (still running, or never ran). */
  readExit(id: string): Promise<ExitStatus | undefined>;
  /**
   * Removes runc state, cgroups, idle monitors and the task dir (with the exit file), and
   * releases the network (unless `keepNetwork`: the caller released it). Idempotent.
   */
  delete(id: string, call?: CallOptions, options?: { keepNetwork?: boolean }): Promise<void>;
  /** Optional: the ids of tasks with state here that none of `containers` owns (a start-up sweep deletes them). */
  orphanTaskIds?(containers: Iterable<string>): Promise<string[]>;
  /** Optional: releases the task's network alone (ports, addresses, sandbox), before its delete. Idempotent. */
  releaseNetwork?(id: string): Promise<void>;
  /**
   * The container's output as the monitor logged it (rotated files included), in batches of
   * lines read together, with bounded memory. Logs outlive the task (a stopped container has
   * none), so they hang off the runtime, keyed by the task's log path.
   */
  logs(logPath: string, options?: ReadLogOptions): AsyncIterable<LogLine[]>;
}

/** Per call: an AbortSignal, and a timeout other than the runtime's default. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface CreateTaskRequest {
  id: string;
  bundleDir: string;
  spec: OciSpec;
  tty: boolean;
  openStdin: boolean;
  /** Where the monitor appends output records; unset: output is not kept (log driver "none"). */
  log?: { path: string; maxSize?: number; maxFiles?: number };
  /**
   * Nothing of the task need outlive a machine crash (a --rm container: a restore removes it):
   * its monitor does not fsync the exit file or the log.
   */
  volatile?: boolean;
}

export interface LoadTaskRequest {
  id: string;
  bundleDir: string;
  tty: boolean;
}

/** One container's process under its monitor. */
export interface Task {
  readonly id: string;
  /** Runs the process (START); resolves with its host pid. Throws RuntimeStartError with Docker's message. */
  start(call?: CallOptions): Promise<{ pid: number }>;
  /**
   * Resolves once the process has exited, with the monitor's exit status (from the exit file
   * when the connection dropped first); undefined when the monitor died without writing one.
   * Never rejects. Pending after close().
   */
  wait(): Promise<ExitStatus | undefined>;
  /** A new stream on the process's stdio (output from now on, stdin, resize, exit). */
  attach(): Promise<TaskStream>;
  resize(rows: number, cols: number): void;
  kill(signal: string | number, options?: { all?: boolean } & CallOptions): Promise<void>;
  pause(call?: CallOptions): Promise<void>;
  resume(call?: CallOptions): Promise<void>;
  /** Applies new cgroup limits. */
  update(resources: OciResources, call?: CallOptions): Promise<void>;
  /** Host pids of the task's processes. */
  top(call?: CallOptions): Promise<number[]>;
  /** Cgroup counters (memory, cpu, pids, block I/O) as the kernel reports them now. NotFound once it stopped. */
  stats(): Promise<TaskStats>;
  /** Prepares a process inside the running task; it runs on ExecProcess.start(). */
  exec(execId: string, process: OciProcess, options: { tty: boolean; openStdin: boolean }): Promise<ExecProcess>;
  /** Lets go of the task without touching it (daemon shutdown): wait() stays pending. */
  close(): void;
}

/** A process started in a running task (docker exec), under its own monitor. */
export interface ExecProcess {
  readonly id: string;
  attach(): Promise<TaskStream>;
  start(call?: CallOptions): Promise<{ pid: number }>;
  /** As Task.wait, for the exec's process. */
  wait(): Promise<ExitStatus | undefined>;
  resize(rows: number, cols: number): void;
  /** Removes the exec's monitor and files (killing a monitor that never started). */
  delete(): Promise<void>;
}

/**
 * A client stream on a task's stdio. Output flows from the moment it was opened; a late
 * stream still learns of the start and the exit. Never emits 'error': a broken stream closes.
 */
export interface TaskStream {
  on(event: 'stdout' | 'stderr', listener: (data: Buffer) => void): this;
  on(event: 'exited', listener: (status: ExitStatus) => void): this;
  on(event: 'runtime-error', listener: (message: string) => void): this;
  on(event: 'close', listener: () => void): this;
  /** Returns false when the stream's buffer is full: await drained() before writing more. */
  writeStdin(data: Buffer): boolean;
  drained(): Promise<void>;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  close(): void;
}

export interface TaskStats {
  /** When the counters were read (ms since the epoch). */
  readAt: number;
  /** Bytes charged to the memory cgroup, and its limit (undefined: none). */
  memory: { usage: number; maxUsage?: number; limit?: number; failcnt?: number; stats: Record<string, number> };
  /** CPU time in nanoseconds: total, per CPU, in user and kernel mode; CFS throttling. */
  cpu: {
    totalNs: number;
    perCpuNs: number[];
    userNs: number;
    systemNs: number;
    throttling: { periods: number; throttledPeriods: number; throttledTimeNs: number };
  };
  /** The host's CPU time (all CPUs, nanoseconds, from /proc/stat) read at the same time, and its online CPUs. */
  host: { cpuNs: number; onlineCpus: number };
  pids: { current: number; limit?: number };
  /** Block I/O per device and operation (v1 blkio; v2 io.stat): bytes and operations. */
  blkio: { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] };
}

export interface BlkioEntry {
  major: number;
  minor: number;
  /** As the kernel names it: Read, Write, Sync, Async, Discard, Total. */
  op: string;
  value: number;
}

/**
 * The seam where networking plugs in, between create and start: called by
 * TaskRuntime.create before the spec is written, it may hand a network namespace path
 * (e.g. /run/berth/netns/<id>, set up with veths and a bridge) that the task joins instead of
 * what the spec asks for. release() is called by TaskRuntime.delete. Today's default,
 * defaultNetworkHook, changes nothing: the spec's own choice (a private namespace with
 * loopback only, the host's, or none) stands.
 */
export interface NetworkHook {
  prepare(request: { id: string; spec: OciSpec }): Promise<{ netnsPath?: string }>;
  release(id: string): Promise<void>;
}

export const defaultNetworkHook: NetworkHook = {
  prepare: async () => ({}),
  release: async () => undefined,
};
