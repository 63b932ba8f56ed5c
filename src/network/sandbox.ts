import { closeSync, promises as fs, mkdirSync, openSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../util/exec';
import { hasNetlink, native, UnmountFlags, type SandboxLink } from '../native';
import { errnoCode } from '../errors';
import { ipBatch } from './commands';

export type { SandboxLink } from '../native';

/**
 * A container's network namespace that outlives its processes and the daemon: a new netns
 * bind-mounted on `<exec root>/netns/<id>`, so the network can be set up before the container
 * starts, and a container re-adopted after a daemon restart keeps it.
 */
export class Sandboxes {
  constructor(private readonly dir: string) {}

  path(id: string): string {
    return path.join(this.dir, id);
  }

  /**
   * Makes the namespace with its interfaces: loopback up and, for each link, a veth pair
   * (the container end addressed and up inside, the default route through the link that has
   * a gateway; the host end on its bridge and up). In-process by rtnetlink (native
   * sandboxCreate: no process spawned); with an addon that predates it, `unshare` + `ip -batch`.
   * On failure the caller removes the namespace (release), and a half-made pair goes with it.
   */
  async create(id: string, links: readonly SandboxLink[] = []): Promise<string> {
    // The file work is synchronous: microseconds on the exec root, where each round trip
    // through libuv's thread pool costs a container start ~0.3 ms while its spec is built.
    mkdirSync(this.dir, { recursive: true, mode: 0o711 });
    const file = this.path(id);
    await this.remove(id);
    closeSync(openSync(file, 'w', 0o444));
    if (hasNetlink()) {
      await native.sandboxCreate(file, links);
      return file;
    }
    if (links.length === 0) await run('unshare', [`--net=${file}`, 'true'], { timeoutMs: 30_000 });
    else await run('unshare', [`--net=${file}`, 'ip', '-batch', '-'], { timeoutMs: 30_000, input: setupLines(links).join('\n') + '\n' });
    if (links.length > 0) await ipBatch(links.map((l) => `link set dev ${l.peer} master ${l.master} up`));
    return file;
  }

  /** Unmounts and deletes the namespace file (the namespace goes with its last user). */
  async remove(id: string): Promise<void> {
    const file = this.path(id);
    try {
      native.umount(file, UnmountFlags.MNT_DETACH);
    } catch (err) {
      if (!['EINVAL', 'ENOENT'].includes(errnoCode(err) ?? '')) throw err;
    }
    rmSync(file, { force: true });
  }

  /** The ids that have a namespace file. */
  async list(): Promise<string[]> {
    return (await fs.readdir(this.dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
  }
}

/** The `ip -batch` lines run inside a new namespace for `links`; each host end is moved to the daemon's namespace (by pid). */
function setupLines(links: readonly SandboxLink[]): string[] {
  const lines = ['link set dev lo up'];
  for (const link of links) {
    const mtu = link.mtu > 0 ? ` mtu ${link.mtu}` : '';
    lines.push(
      `link add ${link.ifname}${mtu} address ${link.mac} type veth peer name ${link.peer}${mtu} netns ${process.pid}`,
      `addr add ${link.address}/${link.prefixLen} dev ${link.ifname}`,
      `link set dev ${link.ifname} up`,
      ...(link.gateway ? [`route replace default via ${link.gateway} dev ${link.ifname}`] : []),
    );
  }
  return lines;
}
