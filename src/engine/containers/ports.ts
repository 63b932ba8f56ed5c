import type { MonitorConnection } from '../../runtime/monitor/client';
import type { ImageRuntimeDefaults } from './create-config';
import type { Resources } from '../../api/types/containers';

/**
 * What the container service needs from the image side and the runtime driver, kept
 * narrow so the service can be wired (and tested) against any implementation.
 */
export interface ImageForContainer {
  id: string;
  config: ImageRuntimeDefaults;
  chainId: string | null;
}

export interface ImageLookup {
  /** NotFound "No such image: X" when absent. */
  resolve(ref: string): Promise<ImageForContainer>;
  /** Makes sure every layer is unpacked; returns the top chain id (null for scratch). */
  ensureUnpacked(image: ImageForContainer): Promise<string | null>;
}

export interface TaskPaths {
  socketPath: string;
}

export interface CreateTaskOptions {
  id: string;
  bundleDir: string;
  spec: object;
  tty: boolean;
  openStdin: boolean;
  logPath: string;
  exitFile: string;
}

export interface ExecTaskOptions {
  tty: boolean;
  openStdin: boolean;
}

export interface ContainerRuntime {
  /** Writes the bundle and starts the monitor, which waits for START. */
  create(options: CreateTaskOptions): Promise<TaskPaths>;
  pathsFor(id: string): TaskPaths;
  kill(id: string, signal: string | number): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  top(id: string): Promise<number[]>;
  /** Idempotent: removes runc state and the task's sockets. */
  delete(id: string): Promise<void>;
  parseSignal(signal: string | number): number;
  /** Applies Docker resource fields (Memory, NanoCpus, CpuShares, PidsLimit, ...) to a running container. */
  update(id: string, resources: Resources): Promise<void>;
  exec(containerId: string, execId: string, process: object, options: ExecTaskOptions): Promise<TaskPaths>;
  /** Removes an exec's files once it has exited. */
  deleteExec?(containerId: string, execId: string): Promise<void>;
}

export type { MonitorConnection };
