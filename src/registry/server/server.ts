import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { RegistryError } from '../errcodes';
import { createLogger, type Logger } from '../../util/logger';
import { API_VERSION, API_VERSION_HEADER, sendError, sendJson } from './http';
import { NO_EVENTS, OPEN_ACCESS, type AccessScope, type EventSink, type ExtraRoute, type RegistryAuth, type RepositoryAction } from './hooks';
import { checkName } from './names';
import type { StorageDriver } from './storage/driver';
import { RepositoryStore } from './storage/repositories';
import type { RouteContext } from './routes/context';
import { getManifest, putManifest, deleteManifest } from './routes/manifests';
import { cancelUpload, deleteBlob, getBlob, patchUpload, putUpload, startUpload, uploadStatus } from './routes/blobs';
import { listCatalog, listReferrers, listTags } from './routes/listing';

/**
 * The OCI distribution-spec server: parses `/v2/...` paths into routes, asks the auth hook for
 * each route's access, and runs the route against the repository store. Other paths go to the
 * extra routes (a token endpoint) or get 404.
 */

export interface RegistryServerOptions {
  driver: StorageDriver;
  auth?: RegistryAuth;
  events?: EventSink;
  routes?: ExtraRoute[];
  logger?: Logger;
  /** HTTPS with this certificate (chain) and key (PEM); plain HTTP without. */
  tls?: { cert: Buffer; key: Buffer };
}

type Handler = (ctx: RouteContext, param: string) => Promise<void>;

/** A route's handler per method, with the repository actions each method needs. */
type RouteMethods = Record<string, { handler: Handler; actions: RepositoryAction[] }>;

const READ: RepositoryAction[] = ['pull'];
const WRITE: RepositoryAction[] = ['pull', 'push'];
const DELETE: RepositoryAction[] = ['delete'];

/** The named routes under `/v2/<name>/...`, tried in order (uploads before blobs). */
const ROUTES: [RegExp, RouteMethods][] = [
  [/^(.+)\/tags\/list$/, { GET: { handler: (c) => listTags(c), actions: READ } }],
  [
    /^(.+)\/manifests\/([^/]+)$/,
    {
      GET: { handler: getManifest, actions: READ },
      HEAD: { handler: getManifest, actions: READ },
      PUT: { handler: putManifest, actions: WRITE },
      DELETE: { handler: deleteManifest, actions: DELETE },
    },
  ],
  [/^(.+)\/blobs\/uploads\/?()$/, { POST: { handler: (c) => startUpload(c), actions: WRITE } }],
  [
    /^(.+)\/blobs\/uploads\/([^/]+)$/,
    {
      GET: { handler: uploadStatus, actions: WRITE },
      PATCH: { handler: patchUpload, actions: WRITE },
      PUT: { handler: putUpload, actions: WRITE },
      // Cancelling one's own unfinished upload needs push, not delete rights.
      DELETE: { handler: cancelUpload, actions: WRITE },
    },
  ],
  [
    /^(.+)\/blobs\/([^/]+)$/,
    {
      GET: { handler: getBlob, actions: READ },
      HEAD: { handler: getBlob, actions: READ },
      DELETE: { handler: deleteBlob, actions: DELETE },
    },
  ],
  [/^(.+)\/referrers\/([^/]+)$/, { GET: { handler: listReferrers, actions: READ } }],
];

export class RegistryServer {
  readonly server: http.Server;
  private readonly store: RepositoryStore;
  private readonly auth: RegistryAuth;
  private readonly events: EventSink;
  private readonly routes: ExtraRoute[];
  private readonly logger: Logger;

  constructor(private readonly options: RegistryServerOptions) {
    this.store = new RepositoryStore(options.driver);
    this.auth = options.auth ?? OPEN_ACCESS;
    this.events = options.events ?? NO_EVENTS;
    this.routes = options.routes ?? [];
    this.logger = options.logger ?? createLogger(undefined, 'registry');
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
    // Blob uploads and downloads may take long: no whole-request deadline.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 65_000;
  }

  /** Listens on host:port (port 0: any free one); resolves with the bound address. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'address not available on this host' : err.message;
        reject(new Error(`registry cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${why}`, { cause: err }));
      };
      this.server.once('error', fail);
      this.server.listen(port, host, () => {
        this.server.off('error', fail);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader(API_VERSION_HEADER, API_VERSION);
    const started = Date.now();
    res.on('finish', () => this.logger.debug(`${req.method} ${req.url} ${res.statusCode}`, { ms: Date.now() - started }));
    try {
      for (const route of this.routes) if (await route(req, res)) return;
      await this.dispatch(req, res);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    if (err instanceof RegistryError) {
      sendError(res, err);
      return;
    }
    // The client went away mid-body: nobody to answer.
    const code = (err as NodeJS.ErrnoException)?.code;
    if (req.destroyed || res.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error)?.message === 'aborted') {
      res.destroy();
      return;
    }
    this.logger.error(`${req.method} ${req.url} failed`, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    sendError(res, new RegistryError('UNKNOWN', err instanceof Error ? err.message : String(err)));
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    // The raw path: URL parsing would resolve `..` segments before the name check sees them.
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';
    if (rawPath === '/v2' || rawPath === '/v2/') {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported(['GET', 'HEAD']);
      await this.authorize(req, []);
      sendJson(res, 200, {});
      return;
    }
    if (!rawPath.startsWith('/v2/')) return notFound(res);
    let rest: string;
    try {
      rest = decodeURIComponent(rawPath.slice('/v2/'.length));
    } catch {
      throw new RegistryError('NAME_INVALID', `invalid path encoding in ${JSON.stringify(rawPath)}`);
    }
    if (rest === '_catalog' || rest === '_catalog/') {
      if (method !== 'GET') throw unsupported(['GET']);
      const auth = await this.authorize(req, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      await listCatalog(this.context(req, res, query, '', auth));
      return;
    }
    for (const [pattern, methods] of ROUTES) {
      const match = pattern.exec(rest);
      if (!match) continue;
      const name = checkName(match[1]!);
      const route = methods[method];
      if (!route) throw unsupported(Object.keys(methods));
      const auth = await this.authorize(req, [{ type: 'repository', name, actions: route.actions }]);
      await route.handler(this.context(req, res, query, name, auth), match[2] ?? '');
      return;
    }
    notFound(res);
  }

  private authorize(req: http.IncomingMessage, needed: AccessScope[]) {
    return this.auth.authorize({ req, needed });
  }

  private context(req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams, name: string, auth: Awaited<ReturnType<RegistryAuth['authorize']>>): RouteContext {
    return { req, res, query, name, auth, authz: this.auth, driver: this.options.driver, store: this.store, events: this.events, logger: this.logger };
  }
}

function unsupported(allowed: string[]): RegistryError {
  return new RegistryError('UNSUPPORTED', undefined, { headers: { Allow: allowed.join(', ') } });
}

function notFound(res: http.ServerResponse): void {
  const body = '404 page not found\n';
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length) });
  res.end(body);
}
