import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP forward proxy on the host's 127.0.0.1 (the `proxy` package, a small Squid-like
 * server) that lets through only requests to the given hosts, for a test daemon in a network
 * namespace of its own that must fetch Debian packages: debootstrap (run by berthd) and apt in
 * a container go through it (http_proxy / Acquire::http::Proxy), after netns-forward.ts makes
 * the port answer inside the namespace. Nothing on the host's network changes.
 */
export interface AptProxy {
  port: number;
  /** How many requests went through (to show the proxy was what carried the downloads). */
  requests(): number;
  close(): Promise<void>;
}

export async function startAptProxy(allowedHosts: string[]): Promise<AptProxy> {
  // proxy is an ES module; Node16 module resolution keeps this a real dynamic import.
  const { createProxy } = await import('proxy');
  const server = createProxy(http.createServer());
  let count = 0;
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  // A request for any other host gets 407: the test must not become an open proxy.
  server.authenticate = (req) => {
    const target = req.method === 'CONNECT' ? (req.url ?? '').replace(/:\d+$/, '') : hostOf(req.url ?? '');
    const ok = allowed.has(target.toLowerCase());
    if (ok) count++;
    return ok;
  };
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    // apt pipelines up to 10 requests on a connection (Acquire::http::Pipeline-Depth) and the
    // proxy package holds a 'close' listener per request until its response ends: 11 is
    // expected there, not a leak (it was a MaxListenersExceededWarning in the MariaDB story).
    s.setMaxListeners(32);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => count,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
