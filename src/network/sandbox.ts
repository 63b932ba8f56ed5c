import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run } from '../util/exec';
import { native, UnmountFlags } from '../native';
import { errnoCode } from '../errors';

/**
 * A container's network namespace that outlives its processes and the daemon: a new netns
 * bind-mounted on `<exec root>/netns/<id>` (by `unshare --net=<file>`), so the network can be
 * set up before the container starts, and a container re-adopted after a daemon restart keeps it.
 */
export class Sandboxes {
  constructor(private readonly dir: string) {}

  path(id: string): string {
    return path.join(this.dir, id);
  }

  /**
   * Makes the namespace; `setup` (iproute2 `ip -batch` lines) runs inside it as it is made,
   * in the same process (`unshare --net=<file> ip -batch -`): one spawn fewer per start.
   */
  async create(id: string, setup: readonly string[] = []): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o711 });
    const file = this.path(id);
    await this.remove(id);
    await fs.writeFile(file, '', { mode: 0o444 });
    if (setup.length === 0) await run('unshare', [`--net=${file}`, 'true'], { timeoutMs: 30_000 });
    else await run('unshare', [`--net=${file}`, 'ip', '-batch', '-'], { timeoutMs: 30_000, input: setup.join('\n') + '\n' });
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
    await fs.rm(file, { force: true });
  }

  /** The ids that have a namespace file. */
  async list(): Promise<string[]> {
    return (await fs.readdir(this.dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
  }
}
