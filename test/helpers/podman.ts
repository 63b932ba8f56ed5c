import { existsSync, promises as fs } from 'node:fs';
import { after, before } from 'node:test';
import * as os from 'node:os';
import * as path from 'node:path';
import { CommandResult, runCommand } from './cli';
import { createPrivateNetns, PrivateNetns } from './private-netns';
import { killProcessesUnder, unmountUnder } from './processes';
import { needsRoot } from './root';

/**
 * Podman on private roots, with only what `apt-get install --no-install-recommends podman`
 * brings (runc, conmon, containers-common; no crun, slirp4netns, netavark, catatonit,
 * fuse-overlayfs or systemd): --root/--runroot/--tmpdir in a temp folder, runc named
 * explicitly, cgroupfs and file events, its network config in the temp folder too, and every
 * command entered into a network namespace of its own (reach a registry there with
 * `TestRegistry.exposeIn(podman.netns)`), so nothing on the host's network or in
 * /etc/cni changes. Its registry credentials go to a temp auth file.
 */
export interface PrivatePodman {
  root: string;
  netns: PrivateNetns;
  /** The auth file `podman login` writes and pulls read (REGISTRY_AUTH_FILE). */
  authFile: string;
  /** Runs `podman <global flags> args…` in the namespace. `run` gets host-compatible ulimits and --network none. */
  podman(args: string[], options?: { input?: string | Buffer; timeoutMs?: number }): Promise<CommandResult>;
  stop(): Promise<void>;
}

export const PODMAN = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'].find((p) => existsSync(p));

export function podmanSkipReason(): string | undefined {
  const root = needsRoot('podman needs root here');
  if (root) return root;
  if (!PODMAN) return 'podman is not installed (scripts/install-deps.sh installs it)';
  if (!RUNC) return 'runc is not installed';
  return undefined;
}

export async function startPrivatePodman(): Promise<PrivatePodman> {
  const skip = podmanSkipReason();
  if (skip) throw new Error(skip);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'pm-'));
  const netns = await createPrivateNetns();
  const authFile = path.join(root, 'auth.json');
  const global = podmanGlobalFlags(root);
  const limits = await podmanRunLimits();
  // TMPDIR: image pulls stage blobs there (/var/tmp otherwise).
  const env = { REGISTRY_AUTH_FILE: authFile, XDG_RUNTIME_DIR: path.join(root, 'xdg'), XDG_CONFIG_HOME: path.join(root, 'config'), TMPDIR: path.join(root, 'tmp') };
  await fs.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  await fs.mkdir(env.TMPDIR);
  // Podman fails on a REGISTRY_AUTH_FILE that does not exist.
  await fs.writeFile(authFile, '{"auths":{}}\n', { mode: 0o600 });
  const podman: PrivatePodman = {
    root,
    netns,
    authFile,
    podman(args, options = {}) {
      const full = args[0] === 'run' ? ['run', '--network', 'none', ...limits, ...args.slice(1)] : args;
      const command = netns.command(PODMAN!, [...global, ...full]);
      return runCommand(command.file, command.args, { ...options, env });
    },
    async stop() {
      await podman.podman(['rm', '-af', '-t', '0']).catch(() => undefined);
      await netns.close();
      await killProcessesUnder(root);
      await unmountUnder(root);
      // Exiting conmons may still write under the root: retry a few times.
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
  return podman;
}

/** Podman's global flags for private roots under `root`: runc named, cgroupfs, file events, overlay, its network config there. */
export function podmanGlobalFlags(root: string): string[] {
  return [
    '--root', path.join(root, 'root'),
    '--runroot', path.join(root, 'run'),
    '--tmpdir', path.join(root, 'tmp'),
    '--runtime', RUNC ?? 'runc',
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
    '--storage-driver', 'overlay',
    '--network-config-dir', path.join(root, 'networks'),
  ];
}

/**
 * In a describe block: a private podman for its tests, started before them with `registry()`
 * reachable at its address inside podman's namespace, and stopped after them.
 */
export function podmanWithRegistry(registry: () => { exposeIn(netns: PrivateNetns): Promise<void> }): () => PrivatePodman {
  let podman: PrivatePodman | undefined;
  before(async () => {
    podman = await startPrivatePodman();
    await registry().exposeIn(podman.netns);
  });
  after(async () => {
    await podman?.stop();
  });
  return () => podman!;
}

/**
 * Podman's default nofile/nproc limits (1048576, 4194304) are above this machine's hard
 * limits (and CAP_SYS_RESOURCE may not be ours), so runc fails to set them: `podman run`
 * flags with ones the host allows (nproc near the hard limit still fails, so at most 4096).
 */
export async function podmanRunLimits(): Promise<string[]> {
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
