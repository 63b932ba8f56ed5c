import type { MonitorConnection } from '../../runtime/monitor/client';
import type { ImageRuntimeDefaults } from './create-config';
import type { Digest } from '../../util/digest';
import type { CreateTaskOptions, ExecTaskOptions, TaskPaths } from '../../runtime/driver/runc-driver';
import type { OciProcess, OciResources } from '../../runtime/spec/oci-types';

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
  ensureUnpacked(image: ImageForContainer): Promise<Digest | null>;
  /** Runs `fn` with image removal and pruning held off (resolve → record must not race a prune). */
  holding<T>(fn: () => Promise<T>): Promise<T>;
}

/** The runtime driver (RuncDriver) as the container and exec services use it. */
export interface ContainerRuntime {
  /** Writes the bundle and starts the monitor, which waits for START. */
  create(options: CreateTaskOptions): Promise<TaskPaths>;
  /** Sends START over `connection` and resolves with the pid; throws RuntimeStartError. */
  start(id: string, paths: TaskPaths, connection: MonitorConnection): Promise<{ pid: number }>;
  /** The paths a running container's task uses (to re-adopt it after a daemon restart). */
  containerPaths(id: string, bundleDir: string, tty: boolean, exitFile?: string): TaskPaths;
  kill(id: string, signal: string | number): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  top(id: string): Promise<number[]>;
  /** Idempotent: removes runc state and the task's sockets. */
  delete(id: string): Promise<void>;
  update(id: string, resources: OciResources): Promise<void>;
  exec(containerId: string, execId: string, process: OciProcess, options: ExecTaskOptions): Promise<TaskPaths>;
  /** Removes an exec's files once it has exited. */
  removeExec(containerId: string, execId: string): Promise<void>;
}

export type { MonitorConnection, TaskPaths };
