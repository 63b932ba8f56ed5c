import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { isENOENT, unavailable } from '../../errors';

/** True when something accepts connections on the unix socket at `socketPath`. */
export function socketIsLive(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socketPath);
    const done = (live: boolean) => {
      conn.destroy();
      resolve(live);
    };
    conn.setTimeout(timeoutMs, () => done(true));
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
  });
}

/**
 * Makes `socketPath` free to listen on: creates its directory, removes a stale socket file
 * left by a crashed daemon, and refuses when another daemon still answers on it.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  try {
    const stat = await fs.lstat(socketPath);
    if (!stat.isSocket()) throw unavailable(`${socketPath} exists and is not a socket`);
  } catch (err: unknown) {
    if (isENOENT(err)) return;
    throw err;
  }
  if (await socketIsLive(socketPath)) {
    throw unavailable(`another daemon is already listening on ${socketPath}`);
  }
  await fs.rm(socketPath, { force: true });
}

/** Docker's socket permissions: rw for root and its group only. */
export async function secureSocket(socketPath: string): Promise<void> {
  await fs.chmod(socketPath, 0o660);
  if (process.getuid?.() === 0) await fs.chown(socketPath, 0, 0);
}
