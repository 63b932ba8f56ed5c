import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy forwarded. */
export interface ProxiedRequest {
  method: string;
  path: string;
  range?: string;
}

/** What the proxy does to blob downloads (GET …/blobs/sha256:…): the failure a test injects. */
export interface BlobFault {
  /** Cut the connection after this many body bytes. */
  cutAfter?: number;
  /** Flip one byte of the body at this offset. */
  corruptAt?: number;
  /** Wait this long before passing on each chunk (a slow registry). */
  chunkDelayMs?: number;
}

export interface FaultProxy {
  /** host:port to use as the registry's name. */
  host: string;
  requests: ProxiedRequest[];
  /**
   * Faults for the downloads of blob `digest`: the next ones take `faults` in order, later
   * ones `always` (undefined: they pass through). A new call replaces the blob's faults.
   */
  faultBlob(digest: string, faults: BlobFault[], always?: BlobFault): void;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of a registry that can cut or corrupt blob downloads: the
 * failure injection point of the pull tests (the registry itself stays real).
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const faults = new Map<string, { queue: BlobFault[]; always?: BlobFault }>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, ...(req.headers.range ? { range: String(req.headers.range) } : {}) });
    const blob = req.method === 'GET' ? /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path)?.[1] : undefined;
    const planned = blob !== undefined ? faults.get(blob) : undefined;
    const fault = planned ? (planned.queue.shift() ?? planned.always) : undefined;
    const headers = { ...req.headers, host: upstream };
    const out = http.request(`http://${upstream}${path}`, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (!fault) {
        up.pipe(res);
        return;
      }
      let seen = 0;
      let cut = false;
      up.on('data', (chunk: Buffer) => {
        if (cut) return;
        let data = chunk;
        if (fault.corruptAt !== undefined && fault.corruptAt >= seen && fault.corruptAt < seen + data.length) {
          data = Buffer.from(data);
          data[fault.corruptAt - seen] ^= 0xff;
        }
        if (fault.cutAfter !== undefined && seen + data.length >= fault.cutAfter) {
          // The bytes before the cut reach the client first, then the connection drops.
          const socket = res.socket;
          up.destroy();
          res.write(data.subarray(0, fault.cutAfter - seen), () => socket?.destroy());
          cut = true;
          return;
        }
        seen += data.length;
        if (fault.chunkDelayMs !== undefined) {
          up.pause();
          setTimeout(() => {
            res.write(data);
            up.resume();
          }, fault.chunkDelayMs);
        } else res.write(data);
      });
      // With delays, the upstream is paused until its last chunk is written: 'end' comes after.
      up.on('end', () => {
        if (!cut) res.end();
      });
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    faultBlob: (digest, queue, always) => {
      faults.set(digest, { queue: [...queue], always });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
