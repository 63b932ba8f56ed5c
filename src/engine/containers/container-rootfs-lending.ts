import type { Readable } from 'node:stream';
import { isLive } from '../../metadata/containers';
import type { Change } from '../../snapshots/types';
import { closeFd, openHostDir, openProcessRoot } from '../../archive';
import type { Container, ContainerContext } from './container-context';
import { containerCgroupsPath, resolveMounts } from './runtime-spec';
import { bindMountsInRoot } from './stopped-mounts';
import { messageOf, notFound } from '../../errors';
import type { KeyedMutex } from '../../util/mutex';

/**
 * How an archive operation sees a container: 'mounts' as its processes do (a live one's
 * mount namespace, volumes and bind mounts included: cp), 'rootfs' its own file system
 * only (export). A stopped container is its mounted rootfs either way.
 */
export type RootfsView = 'mounts' | 'rootfs';

/** Lends containers' root file systems to cp, export and commit; plus diff and size. */
export class ContainerRootfsLending {
  /** How many callers use each container's mounted root file system (cp, export, commit). */
  private readonly rootfsBorrowers = new Map<string, number>();

  constructor(private readonly ctx: ContainerContext) {}

  async changes(ref: string): Promise<Change[]> {
    const container = this.ctx.get(ref);
    return this.ctx.deps.rootfs.changes(container.Id);
  }

  async rwSize(id: string): Promise<number> {
    return this.ctx.deps.rootfs.rwSize(id);
  }

  /** Runs `fn` with an fd of the container's root; then publishes `event` if given (Docker's extract-to-dir, ...). */
  async withRootfs<T>(ref: string, event: string | undefined, fn: (rootFd: number, container: Container) => Promise<T>, view: RootfsView = 'mounts'): Promise<T> {
    const container = this.ctx.get(ref);
    const { rootFd, release } = await this.borrowRootfs(container, view);
    try {
      const result = await fn(rootFd, container);
      if (event) this.ctx.publish(event, container);
      return result;
    } finally {
      release();
    }
  }

  /** A stream made from the container's root (export, archive), which stays borrowed until the stream closes. */
  async streamFromRootfs(ref: string, event: string, makeTar: (rootFd: number) => Readable, view: RootfsView = 'mounts'): Promise<Readable> {
    const container = this.ctx.get(ref);
    const { rootFd, release } = await this.borrowRootfs(container, view);
    let stream: Readable;
    try {
      stream = makeTar(rootFd);
    } catch (err) {
      release();
      throw err;
    }
    stream.once('close', release);
    this.ctx.publish(event, container);
    return stream;
  }

  /**
   * Lends the container's root file system as an O_PATH directory fd (never a path: what
   * is under it belongs to the container, see util/fs-at.ts), mounting it for a
   * stopped container. 'mounts' is what the container's processes see: for a live one its
   * mount namespace through /proc/<pid>/root, volumes and bind mounts included (cp);
   * 'rootfs' is its own file system only (export). Borrowers are counted, so one `cp`
   * finishing cannot unmount what another is still reading; the last one unmounts unless
   * the container runs.
   */
  private async borrowRootfs(container: Container, view: RootfsView): Promise<{ rootFd: number; release: () => void }> {
    const { lock, deps } = this.ctx;
    const id = container.Id;
    if (view === 'mounts' && !isLive(container)) {
      const lent = await this.borrowStoppedWithMounts(id);
      if (lent) return lent;
    }
    const root = await lock.run(id, async () => {
      const mounted = await deps.rootfs.mount(id);
      this.rootfsBorrowers.set(id, (this.rootfsBorrowers.get(id) ?? 0) + 1);
      return mounted;
    });
    let released = false;
    const giveBack = () => {
      if (released) return;
      released = true;
      void lock.run(id, async () => {
        const left = (this.rootfsBorrowers.get(id) ?? 1) - 1;
        if (left > 0) {
          this.rootfsBorrowers.set(id, left);
          return;
        }
        this.rootfsBorrowers.delete(id);
        const current = deps.store.find(id);
        // Remountable: a created --rm container's root is still the volatile mount of its create.
        if (!current || !isLive(current)) await deps.rootfs.unmount(id, { remountable: true }).catch(() => undefined);
      });
    };
    let rootFd: number;
    try {
      rootFd = view === 'mounts' && isLive(container) ? openProcessRoot(container.State.Pid, containerCgroupsPath(id)) : openHostDir(root);
    } catch (err) {
      giveBack();
      throw err;
    }
    const release = () => {
      if (released) return;
      closeFd(rootFd);
      giveBack();
    };
    return { rootFd, release };
  }

  /**
   * A stopped container as its processes would see it: the root file system with its
   * volumes and bind mounts bound in (moby's mountVolumes), held under the container's lock
   * until released, as moby does, so it cannot start (or go) while they are bound. Undefined
   * when it turns out to be running (the caller lends its mount namespace instead).
   */
  private async borrowStoppedWithMounts(id: string): Promise<{ rootFd: number; release: () => void } | undefined> {
    const { lock, deps } = this.ctx;
    const unlock = await holdLock(lock, id);
    let rootFd: number | undefined;
    let unbind: (() => void) | undefined;
    const release = () => {
      try {
        unbind?.();
      } catch (err: unknown) {
        deps.logger.warn('unmounting volumes after a copy failed', { id, error: messageOf(err) });
      }
      if (rootFd !== undefined) closeFd(rootFd);
      const done = (this.rootfsBorrowers.get(id) ?? 0) > 0 ? Promise.resolve() : deps.rootfs.unmount(id, { remountable: true }).catch(() => undefined);
      void done.finally(unlock);
    };
    try {
      const current = deps.store.find(id) as Container | undefined;
      if (!current) throw notFound(`No such container: ${id}`);
      if (isLive(current)) {
        unlock();
        return undefined;
      }
      const mounts = await resolveMounts(current, deps.volumes);
      rootFd = openHostDir(await deps.rootfs.mount(id));
      unbind = bindMountsInRoot(rootFd, mounts);
      return { rootFd, release };
    } catch (err) {
      release();
      throw err;
    }
  }
}

/** Takes the container's lock and keeps it until the returned function is called. */
function holdLock(lock: KeyedMutex, id: string): Promise<() => void> {
  return new Promise((held) => {
    void lock.run(id, () => new Promise<void>((unlock) => held(() => unlock())));
  });
}
