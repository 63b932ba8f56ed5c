import * as path from 'node:path';
import { conflict } from '../../errors';
import type { Task } from '../../runtime/task/types';
import { KeyedMutex } from '../../util/mutex';
import type { Logger } from '../../util/logger';
import type { ContainerRecord, ContainerStore } from '../../metadata/containers';
import type { ContainerSnapshots } from '../../snapshots/types';
import type { EventBus } from '../events/event-bus';
import { formatRfc3339Nano } from '../../runtime/monitor/log-reader';
import type { ContainerConfig, HostConfig } from './create-config';
import type { ContainerRuntime, ImageLookup } from './ports';
import type { LocalVolumes } from '../../volumes/local-volumes';
import type { ContainerNetworking } from '../networks/container-networking';
import { RunPhases } from './run-phases';

export type Container = ContainerRecord<ContainerConfig, HostConfig>;

export interface ContainerServiceDeps {
  store: ContainerStore;
  images: ImageLookup;
  /** Containers' active snapshots (their root file systems). */
  rootfs: ContainerSnapshots;
  runtime: ContainerRuntime;
  volumes: LocalVolumes;
  events: EventBus;
  logger: Logger;
  /** Networks (src/engine/networks); without it every container gets a namespace with loopback only. */
  networking?: Pick<ContainerNetworking, 'planForCreate' | 'attach' | 'checkPorts' | 'hostGateway' | 'checkLinks' | 'linksFor'>;
}

/** In a container's dir while berth itself holds it paused (commit): a restarted daemon unpauses it. */
const PAUSED_BY_BERTH_FILE = 'paused-by-berth';
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function nowRfc3339(): string {
  return formatRfc3339Nano(BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * What the container modules (lifecycle, exits, IO, rootfs, restore) share: the
 * dependencies, the per-container mutex that serializes every check-then-act sequence on one
 * container, and the task of each running container.
 */
export class ContainerContext {
  readonly lock = new KeyedMutex();
  /** The task of each running container (its exit is watched through it). */
  readonly tasks = new Map<string, Task>();
  /** Set at daemon shutdown: monitor connections close, but the containers live on. */
  detached = false;
  /** Phase timings of runs, for the debug log. */
  readonly phases = new RunPhases();

  constructor(readonly deps: ContainerServiceDeps) {}

  get(ref: string): Container {
    return this.deps.store.get(ref) as Container;
  }

  /** Every container, read-only (frozen records: `get` a copy to change one). */
  list(): readonly Container[] {
    return this.deps.store.list() as readonly Container[];
  }

  /** The task of a running container. */
  task(id: string): Task {
    const task = this.tasks.get(id);
    if (!task) throw conflict(`Container ${id} is not running`);
    return task;
  }

  eventAttributes(container: Container): Record<string, string> {
    return { image: container.ImageName, name: container.Name.slice(1), ...(container.Config.Labels ?? {}) };
  }

  publish(action: string, container: Container, extra: Record<string, string> = {}): void {
    this.deps.events.publish('container', action, container.Id, { ...this.eventAttributes(container), ...extra });
  }

  pausedByBerthFile(id: string): string {
    return path.join(this.deps.store.dir(id), PAUSED_BY_BERTH_FILE);
  }
}
