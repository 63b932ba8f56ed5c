import type { ImageRuntimeDefaults } from './create-config';
import type { Digest } from '../../util/digest';
import type { TaskRuntime } from '../../runtime/task/types';

/**
 * What the container service needs from the image side and the runtime, kept
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

/** The runtime as the container service uses it: tasks only (src/runtime/task/types.ts). */
export type ContainerRuntime = TaskRuntime;
