import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The registry server's hook points: authentication/authorization, extra routes (a token
 * endpoint) and the event sink for pushes and deletes. The server works without any of them
 * (no auth, no events); `berth registry serve` plugs in the htpasswd/access/token/webhook
 * implementations.
 */

/** An action on a repository, as in Docker's token scopes (`repository:team-a/app:pull,push`). */
export type RepositoryAction = 'pull' | 'push' | 'delete';

/**
 * One piece of access a request needs, in the shape of a token scope: `repository:<name>:<actions>`
 * or `registry:catalog:*` (the `_catalog` listing).
 */
export type AccessScope =
  | { type: 'repository'; name: string; actions: RepositoryAction[] }
  | { type: 'registry'; name: 'catalog'; actions: ['*'] };

/** What the server knows about a request when it asks for access. */
export interface AccessRequest {
  /** The raw request: headers (Authorization), remote address. The body must not be read. */
  req: IncomingMessage;
  /** Everything this request needs; empty for the `/v2/` base check (only "who are you"). */
  needed: AccessScope[];
}

/**
 * Who made a request, as the auth hook established it. `actor` is undefined for anonymous
 * access. The hook may keep its own state on the object (a token's grants) for `permits`.
 */
export interface AuthContext {
  actor?: string;
}

export interface RegistryAuth {
  /**
   * Authenticates the request and checks that it holds every scope in `needed`. Throws a
   * RegistryError (src/registry/errcodes.ts): UNAUTHORIZED with a `WWW-Authenticate` header in
   * `headers` when credentials are missing or wrong, DENIED when a known identity lacks a
   * right. Runs before the server touches storage, for every `/v2/...` request.
   */
  authorize(request: AccessRequest): Promise<AuthContext>;
  /**
   * Whether an already authorized request also holds `scope`, without failing it: for optional
   * access such as a cross-repository mount's source (without pull on `from`, the server
   * falls back to a plain upload, as distribution does).
   */
  permits(context: AuthContext, scope: AccessScope): Promise<boolean>;
}

/** No auth configured: everyone may do everything. */
export const OPEN_ACCESS: RegistryAuth = {
  authorize: async () => ({}),
  permits: async () => true,
};

/**
 * An extra HTTP route outside `/v2/` (e.g. the token endpoint `/token`). Called in order before
 * the registry routes; it returns true when it answered the request.
 */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** A change to a repository, emitted after it is durable. */
export interface RegistryEvent {
  /** push: a manifest was stored (PUT); delete: a manifest, tag or blob was removed. */
  action: 'push' | 'delete';
  /** What changed: a manifest (PUT/DELETE by digest), a tag (DELETE by tag), or a blob (DELETE). */
  target: 'manifest' | 'tag' | 'blob';
  repository: string;
  /** The tag pushed or deleted, when the request named one. */
  tag?: string;
  digest: string;
  /** Bytes of the manifest or blob (absent on a tag delete). */
  size?: number;
  mediaType?: string;
  /** The authenticated user; undefined when anonymous. */
  actor?: string;
  /** RFC 3339 time of the change. */
  time: string;
  /** The request's remote address and the registry's own host, for the event's source/request fields. */
  request: { addr: string; host: string; method: string; userAgent: string };
}

/**
 * Receives every push/delete event. `emit` must not block or throw: delivery (webhooks with
 * retries) happens in the background; the request has already succeeded.
 */
export interface EventSink {
  emit(event: RegistryEvent): void;
}

export const NO_EVENTS: EventSink = { emit() {} };
