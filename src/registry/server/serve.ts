import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../util/logger';
import { DEFAULT_ADDR, parseAddr } from './config';
import { buildExtensions } from './extensions';
import type { ServeConfig } from './serve-config';
import { RegistryServer } from './server';
import { FilesystemDriver } from './storage/fs-driver';

/** A registry started by `serve`: where it listens, and how to stop it. */
export interface RunningRegistry {
  address: AddressInfo;
  server: RegistryServer;
  close(): Promise<void>;
  /** Re-reads the users and access rules files; on an error the ones in use stay. */
  reload(): Promise<void>;
}

/** Composition of `berth registry serve`: the filesystem driver, the configured hooks, the HTTP server. */
export async function serveRegistry(config: ServeConfig, logger: Logger): Promise<RunningRegistry> {
  const { host, port } = parseAddr(config.addr ?? DEFAULT_ADDR);
  if (!config.root) throw new Error('a storage root is required: --root DIR (or "root" in the config file)');
  const root = path.resolve(config.root);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  // The root still holds the token key and the webhook queues with an S3 store.
  // The AWS SDK takes ~0.6 s to load: only when an S3 store is configured.
  const s3 = config.storage?.s3 ? new (require('./storage/s3-driver') as typeof import('./storage/s3-driver')).S3Driver(config.storage.s3) : undefined;
  const driver = s3 ?? new FilesystemDriver(root);
  await driver.init();
  const tls = config.tls ? { cert: await readPem(config.tls.certificate, 'TLS certificate'), key: await readPem(config.tls.key, 'TLS key') } : undefined;
  const extensions = await buildExtensions(config, logger);
  let server: RegistryServer;
  try {
    server = new RegistryServer({ driver, auth: extensions.auth, events: extensions.events, routes: extensions.routes, logger, tls });
  } catch (err) {
    await extensions.close?.();
    throw new Error(`cannot serve HTTPS with ${config.tls!.certificate} and ${config.tls!.key}: ${(err as Error).message}`, { cause: err });
  }
  const address = await server.listen(host, port);
  logger.info(`registry listening on ${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${tls ? ' (HTTPS)' : ''}, storage ${driver.description}`);
  return {
    address,
    server,
    close: async () => {
      await server.close();
      await extensions.close?.();
      s3?.close();
    },
    reload: async () => {
      await extensions.reload?.();
    },
  };
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new Error(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}
