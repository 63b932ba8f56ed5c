import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Backends } from '../backend';
import { statusOf } from '../errors-to-status';
import { messageOf } from '../../errors';
import type { Logger } from '../../util/logger';
import { MAX_API_VERSION, negotiateVersion } from './api-version';
import { Exchange } from './exchange';
import { Router } from './router';
import { prepareSocketPath, secureSocket } from './socket-file';
import { addContainerRoutes } from './routes/containers';
import { addExecRoutes } from './routes/exec';
import { addImageRoutes } from './routes/images';
import { addSystemRoutes } from './routes/system';
import { missingRoutesRouter } from './routes/missing';

export interface ApiServerOptions {
  logger: Logger;
  socketPath: string;
  /** Shown in the Server header as "Berth/<version> (linux)". */
  serverVersion?: string;
  /** Routers beyond the four core ones (volumes, networks, build), each adding its routes. */
  extraRoutes?: ((router: Router) => void)[];
  /**
   * How long a client may take to send a request's headers before the connection is closed
   * (slowloris). Once the headers are in, a request has no time limit: uploads (load, archive
   * PUT) may be slow, and streams (attach, logs -f, events, exec) may stay idle for hours.
   */
  headersTimeoutMs?: number;
}

/** Node's own default, and the order of Go's ReadHeaderTimeout in dockerd. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

export interface ApiServer {
  /** Removes a stale socket (refusing if a live daemon answers), listens, sets mode 0660. */
  listen(): Promise<void>;
  /** Stops accepting, ends long streams and hijacked sessions, removes the socket file. */
  close(): Promise<void>;
}

/** How long close() lets in-flight requests finish after cancelling them. */
const CLOSE_GRACE_MS = 2000;

/** How long a refused client may keep its connection to read the answer. */
const CLIENT_ERROR_LINGER_MS = 500;

const VERSION_PREFIX = /^\/v([0-9.]+)(\/.*)$/;

function clientErrorStatus(code: string | undefined): string {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  return '400 Bad Request';
}

export function buildRouter(backends: Backends, logger: Logger): Router {
  const router = new Router();
  addSystemRoutes(router, backends.system);
  addContainerRoutes(router, backends.containers, logger);
  addExecRoutes(router, backends.exec, logger);
  addImageRoutes(router, backends.images);
  return router;
}

/**
 * The Docker Engine API on a unix socket. Plain requests and `Upgrade: tcp` requests (node's
 * 'upgrade' event) go through the same router; the latter get a ServerResponse bound to the
 * raw socket so routes answer errors normally and hijack only when they mean to.
 */
export function createApiServer(backends: Backends, options: ApiServerOptions): ApiServer {
  const { logger, socketPath } = options;
  const serverHeader = `Berth/${options.serverVersion ?? '0.0.0'} (linux)`;
  const router = buildRouter(backends, logger);
  for (const addRoutes of options.extraRoutes ?? []) addRoutes(router);
  const missingRoutes = missingRoutesRouter();
  const inflight = new Set<Exchange>();
  const sockets = new Set<Socket>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, upgradeSocket?: Duplex): Promise<void> => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    let path = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const search = new URLSearchParams(queryAt < 0 ? '' : rawUrl.slice(queryAt + 1));
    const prefixed = VERSION_PREFIX.exec(path);
    if (prefixed) path = prefixed[2]!;

    res.setHeader('Server', serverHeader);
    res.setHeader('Api-Version', MAX_API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');

    const ex = new Exchange(req, res, path, search, upgradeSocket);
    inflight.add(ex);
    const method = req.method ?? 'GET';
    logger.debug('request received', { method, url: rawUrl, upgrade: upgradeSocket !== undefined });
    try {
      const match = router.match(method, path) ?? missingRoutes.match(method, path);
      if (!match) {
        ex.json(404, { message: 'page not found' });
        return;
      }
      ex.apiVersion = negotiateVersion(prefixed?.[1]);
      ex.params = match.params;
      await match.handler(ex);
    } catch (err: unknown) {
      const status = statusOf(err);
      if (status >= 500) logger.error('request failed', { method, url: rawUrl, error: messageOf(err) });
      else logger.debug('request refused', { method, url: rawUrl, status, error: messageOf(err) });
      if (!ex.headersSent) ex.error(err);
      else if (!ex.hijacked) res.destroy();
    } finally {
      inflight.delete(ex);
      logger.debug('request', { method, url: rawUrl, status: ex.hijacked ? 'hijacked' : res.statusCode });
    }
  };

  // requestTimeout 0: image loads and archive uploads may take longer than node's default.
  // With it, node's default headersTimeout is min(60 s, requestTimeout) = 0, i.e. none, so it
  // must be set explicitly. Node checks it only until a request's headers are complete, and
  // never on an upgraded (hijacked) socket, which leaves the long streams alone.
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const server = http.createServer(
    { requestTimeout: 0, headersTimeout, connectionsCheckingInterval: Math.min(5000, Math.max(50, Math.floor(headersTimeout / 4))) },
    (req, res) => void handle(req, res),
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (head.length > 0) socket.unshift(head);
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    void handle(req, res, socket);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    logger.debug('client error', { error: err.message, code: err.code });
    if (socket.destroyed) return;
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Answer and half-close, so the client reads the answer (closing at once with its unread
    // bytes pending resets the connection and loses it), then cut a client that keeps writing.
    socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\n\r\n`);
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  });

  const cancelAll = () => {
    for (const ex of inflight) ex.cancel();
  };
  backends.system.onShutdown(cancelAll);

  return {
    async listen() {
      await prepareSocketPath(socketPath);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await secureSocket(socketPath);
      logger.info('API listening', { socket: socketPath });
    },

    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cancelAll();
      const deadline = Date.now() + CLOSE_GRACE_MS;
      while (inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
      await fs.rm(socketPath, { force: true });
    },
  };
}
