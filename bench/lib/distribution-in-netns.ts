import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PrivateNetns } from '../../test/helpers/private-netns';
import { DISTRIBUTION_ENV, DOCKER_REGISTRY, terminate, writeDistributionConfig } from '../../test/helpers/registry';

export interface NetnsRegistry {
  /** `127.0.0.1:<port>` inside the namespace. */
  host: string;
  /** Stops the registry and removes its temp folder. */
  stop(): Promise<void>;
}

/**
 * Debian's docker-registry inside a network namespace, on its loopback (an engine living in
 * that namespace reaches it with no proxy in the way), with a temp config and storage under
 * `parent` (default: the system temp folder). Resolves once it logs "listening on".
 */
export async function startDistributionIn(netns: PrivateNetns, parent = os.tmpdir()): Promise<NetnsRegistry> {
  const root = await fs.mkdtemp(path.join(parent, 'brn-'));
  // The namespace's loopback is empty: any port will do.
  const host = `127.0.0.1:${20_000 + Math.floor(Math.random() * 40_000)}`;
  const file = await writeDistributionConfig(root, path.join(root, 'storage'), host, { log: { level: 'info', accesslog: { disabled: true } } });
  const command = netns.command(DOCKER_REGISTRY, ['serve', file]);
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'], env: DISTRIBUTION_ENV });
  const stop = async () => {
    await terminate(child);
    await fs.rm(root, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`docker-registry in the namespace did not start: ${log}`)), 30_000);
      const onData = (d: Buffer) => {
        log += d.toString();
        if (log.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`docker-registry in the namespace exited: ${log}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, stop };
}
