import type { EventsOptions, SystemBackend } from '../../api/backend';
import type { EventMessage, SystemDfResponse, SystemDfType, SystemInfo, SystemVersion } from '../../api/types/system';
import type { EventBus } from '../events/event-bus';
import type { SystemService } from './system-service';

/** Maps /_ping, /version, /info, /events and /system/df onto the engine. */
export class SystemBackendImpl implements SystemBackend {
  private readonly shutdownCallbacks: Array<() => void> = [];

  constructor(
    private readonly deps: { system: SystemService; events: EventBus; diskUsage: (types: SystemDfType[]) => Promise<SystemDfResponse> },
  ) {}

  async ping(): Promise<void> {}

  async version(): Promise<SystemVersion> {
    return this.deps.system.version() as unknown as SystemVersion;
  }

  async info(): Promise<SystemInfo> {
    return (await this.deps.system.info()) as unknown as SystemInfo;
  }

  events(opts: EventsOptions): AsyncIterable<EventMessage> {
    const toNs = (seconds: number | undefined) => (seconds === undefined ? undefined : Math.floor(seconds * 1e9));
    const filters = opts.filters;
    return this.deps.events.subscribe({
      sinceNs: toNs(opts.since),
      untilNs: toNs(opts.until),
      signal: opts.signal,
      filters: { type: filters.type, event: filters.event, container: filters.container, image: filters.image, label: filters.label },
    });
  }

  df(opts: { types: SystemDfType[] }): Promise<SystemDfResponse> {
    return this.deps.diskUsage(opts.types);
  }

  onShutdown(callback: () => void): void {
    this.shutdownCallbacks.push(callback);
  }

  /** Called by the daemon when it begins shutting down. */
  shutdown(): void {
    for (const callback of this.shutdownCallbacks.splice(0)) callback();
  }
}
