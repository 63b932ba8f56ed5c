import { EventEmitter } from 'node:events';

import type { EventMessage } from '../../api/types/system';

export type EngineEvent = EventMessage;

export interface EventFilters {
  type?: string[];
  event?: string[];
  container?: string[];
  image?: string[];
  label?: string[];
}

const HISTORY_LIMIT = 1024;

/**
 * In-process event bus: services publish, the API streams. Keeps a bounded history so
 * `events --since` can replay recent events.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EngineEvent[] = [];

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** How many event streams are open (/info's NEventsListener). */
  get listenerCount(): number {
    return this.emitter.listenerCount('event');
  }

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      event.status = action;
      event.id = id;
      if (attributes.image) event.from = attributes.image;
    }
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    this.emitter.emit('event', event);
  }

  /** Calls `fn` for every event published from now on; returns the unsubscribe function. */
  listen(fn: (event: EngineEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }

  /**
   * Replays history within [sinceNs, untilNs] then streams live events until `signal`
   * aborts or `untilNs` passes.
   */
  async *subscribe(options: { sinceNs?: number; untilNs?: number; filters?: EventFilters; signal?: AbortSignal }): AsyncGenerator<EngineEvent> {
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvent = (e: EngineEvent) => {
      queue.push(e);
      wake?.();
    };
    const matches = (e: EngineEvent) => matchesFilters(e, options.filters);
    this.emitter.on('event', onEvent);
    const onAbort = () => wake?.();
    options.signal?.addEventListener('abort', onAbort);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (options.sinceNs !== undefined) {
        for (const e of this.history) {
          if (e.timeNano >= options.sinceNs && (options.untilNs === undefined || e.timeNano <= options.untilNs) && matches(e)) yield e;
        }
      }
      while (!options.signal?.aborted) {
        if (options.untilNs !== undefined && Date.now() * 1_000_000 >= options.untilNs) return;
        const next = queue.shift();
        if (next) {
          if (matches(next)) yield next;
          continue;
        }
        // A timer can fire a little before Date.now() reaches `until`: arm one per wait, so
        // an early wake-up re-arms instead of leaving the stream waiting for another event.
        if (options.untilNs !== undefined) {
          timer = setTimeout(() => wake?.(), Math.ceil((options.untilNs - Date.now() * 1_000_000) / 1_000_000) + 1);
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (timer) clearTimeout(timer);
      }
    } finally {
      if (timer) clearTimeout(timer);
      this.emitter.off('event', onEvent);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** As moby (#25798): `event=health_status` (or exec_create, exec_start) matches "health_status: healthy" by prefix. */
function fuzzyEventFilter(values: string[]): boolean {
  return values.some((v) => v === 'health_status' || v === 'exec_create' || v === 'exec_start');
}

function matchesFilters(event: EngineEvent, filters: EventFilters | undefined): boolean {
  if (!filters) return true;
  if (filters.type?.length && !filters.type.includes(event.Type)) return false;
  if (filters.event?.length && !filters.event.some((f) => event.Action === f || (fuzzyEventFilter(filters.event!) && event.Action.startsWith(f)))) return false;
  if (filters.container?.length) {
    if (event.Type !== 'container') return false;
    const name = event.Actor.Attributes.name;
    if (!filters.container.some((c) => event.Actor.ID.startsWith(c) || c === name)) return false;
  }
  if (filters.image?.length) {
    const image = event.Actor.Attributes.image ?? (event.Type === 'image' ? event.Actor.ID : undefined);
    if (!image || !filters.image.includes(image)) return false;
  }
  if (filters.label?.length) {
    for (const label of filters.label) {
      const [key, value] = label.split('=', 2) as [string, string | undefined];
      const actual = event.Actor.Attributes[key];
      if (actual === undefined || (value !== undefined && actual !== value)) return false;
    }
  }
  return true;
}
