import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPrivateNetns, type PrivateNetns } from '../../test/helpers/private-netns';
import { findProcesses, mustRun, unmountUnder } from './proc';
import type { BenchTarget } from './targets';

export const PODMAN = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));

export interface PodmanTarget extends BenchTarget {
  name: 'podman';
  version: string;
  /** The podman command line for `args` (private roots, its network namespace, run limits), for timing a process. */
  command(args: string[]): { file: string; args: string[] };
  /** The network namespace podman's commands run in (a registry for it listens there). */
  netns: PrivateNetns;
}

/**
 * Podman on private roots (--root/--runroot/--tmpdir), cgroupfs and file events (no
 * systemd here), with the same busybox archive loaded. Podman has no daemon: its
 * per-container helper is conmon. Every podman command runs in a network namespace of the
 * target's own (test/helpers/private-netns.ts), so a podman network (its bridge, routes and
 * firewall rules) could never land on the host's.
 */
export async function startPodman(image: Buffer): Promise<PodmanTarget | undefined> {
  if (!PODMAN) return undefined;
  const podman = PODMAN;
  const netns = await createPrivateNetns();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-'));
  const global = [
    '--root', path.join(root, 'root'),
    '--runroot', path.join(root, 'run'),
    '--tmpdir', path.join(root, 'tmp'),
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
    '--storage-driver', 'overlay',
  ];
  const limits = await hostLimits();
  const command = (args: string[]) => netns.command(podman, [...global, ...(args[0] === 'run' ? ['run', ...limits, ...args.slice(1)] : args)]);
  const run = (args: string[]) => {
    const c = command(args);
    return mustRun(c.file, c.args);
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

/**
 * Podman's default nofile/nproc limits (1048576, 4194304) are above this machine's hard
 * limits and CAP_SYS_RESOURCE is not ours here, so runc fails to set them; pass lower ones
 * (nproc near the hard limit still fails, so at most 4096).
 */
async function hostLimits(): Promise<string[]> {
  const limits = await fs.readFile('/proc/self/limits', 'utf8');
  const hard = (label: string) => new RegExp(`^${label}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
  const args: string[] = [];
  for (const [label, name] of [['Max open files', 'nofile'], ['Max processes', 'nproc']] as const) {
    const raw = hard(label);
    if (!raw || raw === 'unlimited') continue;
    const value = name === 'nproc' ? Math.min(Number(raw), 4096) : Number(raw);
    args.push('--ulimit', `${name}=${value}:${value}`);
  }
  return args;
}
