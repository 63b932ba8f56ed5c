import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { RegistryServer, type RegistryServerOptions } from '../../src/registry/server/server';
import { FilesystemDriver } from '../../src/registry/server/storage/fs-driver';
import { silentLogger } from '../../src/util/logger';

/**
 * An in-process berth registry on 127.0.0.1:<free port> over a filesystem driver in a temp
 * folder, and a small HTTP client for talking to it (node's http, real sockets).
 */
export interface TestRegistry {
  url: string;
  host: string;
  root: string;
  driver: FilesystemDriver;
  server: RegistryServer;
  request(method: string, urlPath: string, options?: { headers?: Record<string, string>; body?: Uint8Array | string }): Promise<TestResponse>;
  stop(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): any;
}

export async function startTestRegistry(options: Omit<RegistryServerOptions, 'driver'> = {}): Promise<TestRegistry> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'breg-'));
  const driver = new FilesystemDriver(path.join(root, 'storage'));
  await driver.init();
  const server = new RegistryServer({ logger: silentLogger, ...options, driver });
  const address = await server.listen('127.0.0.1', 0);
  const host = `127.0.0.1:${address.port}`;
  const agent = new http.Agent({ keepAlive: true });
  return {
    url: `http://${host}`,
    host,
    root,
    driver,
    server,
    request: (method, urlPath, opts = {}) => httpRequest(agent, address.port, method, urlPath, opts),
    stop: async () => {
      agent.destroy();
      await server.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

export function httpRequest(agent: http.Agent | undefined, port: number, method: string, urlPath: string, opts: { headers?: Record<string, string>; body?: Uint8Array | string } = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body !== undefined && headers['Content-Length'] === undefined && headers['Transfer-Encoding'] === undefined) headers['Content-Length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, json: () => JSON.parse(data.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
