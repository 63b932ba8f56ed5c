import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../util/logger';
import type { AuthContext, EventSink, RegistryAuth, RegistryEvent } from '../hooks';
import type { StorageDriver } from '../storage/driver';
import type { RepositoryStore } from '../storage/repositories';

/** Everything a route handler works with for one request. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  /** The repository name (checked), '' for routes without one. */
  name: string;
  /** Who the auth hook says made the request. */
  auth: AuthContext;
  authz: RegistryAuth;
  driver: StorageDriver;
  store: RepositoryStore;
  events: EventSink;
  logger: Logger;
}

/** Emits an event for the request, filling who/when/where. */
export function emitEvent(ctx: RouteContext, event: Omit<RegistryEvent, 'actor' | 'time' | 'request'>): void {
  const { req } = ctx;
  try {
    ctx.events.emit({
      ...event,
      actor: ctx.auth.actor,
      time: new Date().toISOString(),
      request: { addr: req.socket.remoteAddress ?? '', host: req.headers.host ?? '', method: req.method ?? '', userAgent: req.headers['user-agent'] ?? '' },
    });
  } catch (err) {
    ctx.logger.warn('event sink failed', { error: (err as Error).message });
  }
}
