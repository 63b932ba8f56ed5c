import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPrivateNetns, type PrivateNetns } from '../../test/helpers/private-netns';
import { PODMAN, podmanGlobalFlags, podmanRunLimits } from '../../test/helpers/podman';
import { findProcesses, mustRun, unmountUnder } from './proc';
import type { BenchTarget } from './targets';

/** How long a podman `rm` may take: `rm -af` of the 200-container row took it over runCommand's minute here. */
const REMOVE_TIMEOUT_MS = 10 * 60_000;

export { PODMAN };

export interface PodmanTarget extends BenchTarget {
  name: 'podman';
  version: string;
  /** The podman command line for `args` (private roots, its network namespace, run limits), for timing a process. */
  command(args: string[]): { file: string; args: string[] };
  /** The network namespace podman's commands run in (a registry for it listens there). */
  netns: PrivateNetns;
}

/**
 * Podman on private roots, with the tests' flags (test/helpers/podman.ts) and the same
 * busybox archive loaded. Podman has no daemon: its per-container helper is conmon. Every podman command runs in a network namespace of the
 * target's own (test/helpers/private-netns.ts), so a podman network (its bridge, routes and
 * firewall rules) could never land on the host's.
 */
export async function startPodman(image: Buffer): Promise<PodmanTarget | undefined> {
  if (!PODMAN) return undefined;
  const podman = PODMAN;
  const netns = await createPrivateNetns();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-'));
  const global = podmanGlobalFlags(root);
  const limits = await podmanRunLimits();
  const command = (args: string[]) => netns.command(podman, [...global, ...(args[0] === 'run' ? ['run', ...limits, ...args.slice(1)] : args)]);
  const run = (args: string[]) => {
    const c = command(args);
    return mustRun(c.file, c.args, args[0] === 'rm' ? { timeoutMs: REMOVE_TIMEOUT_MS } : {});
  };
  const archive = path.join(root, 'busybox.tar');
  await fs.writeFile(archive, image);
  const target: PodmanTarget = {
    name: 'podman',
    version: '',
    command,
    netns,
    async cli(args) {
      await run(args);
    },
    async daemonPids() {
      return [];
    },
    monitorPids: () => findProcesses((cmd) => cmd.startsWith('/usr/bin/conmon') && cmd.includes(`${root}/`)),
    async stop() {
      await run(['rm', '-af', '-t', '0']).catch(() => undefined);
      await netns.close();
      await unmountUnder(root);
      // Exiting conmons may still be writing under the root: retry a few times.
      for (let attempt = 0; ; attempt++) {
        try {
          await fs.rm(root, { recursive: true, force: true });
          return;
        } catch (err: unknown) {
          if (attempt >= 5) throw err;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    },
  };
  try {
    await run(['load', '-q', '-i', archive]);
    target.version = (await mustRun(podman, ['--version'])).stdout.toString().trim().replace(/^podman version /, '');
  } catch (err: unknown) {
    await target.stop();
    throw err;
  }
  return target;
}
