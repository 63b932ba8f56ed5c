import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { EngineClient } from '../../client/engine-client';
import { ConnectError } from '../../client/errors';
import { isDefaultHost, resolveHost } from '../../client/host';
import { AUTOSTART_LOG, DEFAULT_DATA_ROOT, daemonEntry, daemonLauncher } from './paths';

const AUTOSTART_WAIT_MS = 10_000;

/**
 * Connects to the daemon and negotiates the API version. When nothing answers on the
 * default socket, no host was named and we are root, starts berthd in the background first.
 */
export async function connectClient(hostFlag: string | undefined): Promise<EngineClient> {
  const client = new EngineClient({ host: resolveHost({ flag: hostFlag }) });
  try {
    await client.apiVersion();
    return client;
  } catch (err: unknown) {
    if (!(err instanceof ConnectError) || !isDefaultHost({ flag: hostFlag }) || process.getuid?.() !== 0 || !existsSync(daemonEntry())) throw err;
  }
  startDaemonInBackground([]);
  await waitForDaemon(client, AUTOSTART_WAIT_MS);
  return client;
}

/** Spawns `bin/berthd ...args` detached, its output to /run/berth/berthd.out. */
export function startDaemonInBackground(args: string[]): number | undefined {
  mkdirSync('/run/berth', { recursive: true, mode: 0o711 });
  const log = openSync(AUTOSTART_LOG, 'a');
  try {
    // Only when the daemon is down: not at every command's start-up.
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const child = spawn(daemonLauncher(), args, { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export async function waitForDaemon(client: EngineClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await client.apiVersion();
      return;
    } catch (err: unknown) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`the Berth daemon did not come up within ${timeoutMs / 1000}s (see ${DEFAULT_DATA_ROOT}/berthd.log and ${AUTOSTART_LOG})`, { cause: last });
}
