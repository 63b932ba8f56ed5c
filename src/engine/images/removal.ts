import type { ImageRecord } from '../../metadata/images';
import { Digest, chainIds, hexOf } from '../../util/digest';
import type { Mutex } from '../../util/mutex';
import { EngineError, conflict, errorKind, invalidArgument } from '../../errors';
import type { ImageDeleteResponseItem } from '../../api/types/images';
import { Reference, familiarString, fullName, parseNormalizedNamed, withDefaultTag } from '../../images/reference';
import { matchLabels, parseUntil } from './filters';
import type { ImageParts, ImageResolver, ImageStores } from './resolver';
import { unixSeconds } from './views';
import type { ImageUsage, PruneResult } from './types';

const PRUNE_FILTERS = new Set(['dangling', 'label', 'until']);

const shortId = (id: string) => (id.startsWith('sha256:') ? id.slice(7) : id).slice(0, 12);

/** docker's ImageDeleteConflict. */
class DeleteConflict {
  constructor(
    readonly id: Digest,
    readonly hard: boolean,
    readonly used: boolean,
    readonly message: string,
  ) {}
  error(): EngineError {
    return conflict(`conflict: unable to delete ${shortId(this.id)} (${this.hard ? 'cannot be forced' : 'must be forced'}) - ${this.message}`);
  }
}

/**
 * Removal: `rmi` and `image prune` with Docker's untag/delete/conflict rules (moby's
 * daemon/images/image_delete.go), and the deletion of the blobs and layers a removed image
 * leaves without an owner. Runs under `gc`, so it never deletes what a concurrent load or
 * commit is about to reference.
 */
export class ImageRemoval {
  constructor(
    private readonly stores: ImageStores,
    private readonly resolver: ImageResolver,
    private readonly gc: Mutex,
  ) {}

  /** `docker rmi` with Docker's untag/delete rules; returns the Untagged/Deleted items. */
  async remove(name: string, opts: { force?: boolean; noprune?: boolean }, usage: ImageUsage): Promise<ImageDeleteResponseItem[]> {
    return this.gc.run(() => this.removeLocked(name, opts.force ?? false, !(opts.noprune ?? false), usage, { bytes: 0 }));
  }

  async prune(opts: { all?: boolean; filters?: Record<string, string[]> }, usage: ImageUsage): Promise<PruneResult> {
    const { metadata } = this.stores;
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) if (!PRUNE_FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const danglingOnly = !(opts.all ?? false) && !(filters.dangling ?? []).some((v) => v === 'false' || v === '0');
    const until = (filters.until ?? []).map(parseUntil);
    return this.gc.run(async () => {
      const stats = { bytes: 0 };
      const deleted: ImageDeleteResponseItem[] = [];
      const candidates: ImageRecord[] = [];
      for (const record of metadata.list()) {
        const refs = metadata.refsOf(record.id);
        const children = metadata.children(record.id);
        if (danglingOnly && children.length > 0) continue;
        if (refs.length === 0 && children.length > 0) continue;
        const image = await this.resolver.toResolved(record);
        if (until.some((t) => unixSeconds(image.created) > t)) continue;
        if (!matchLabels(filters.label ?? [], image.runConfig.Labels ?? {})) continue;
        candidates.push(record);
      }
      for (const record of candidates) {
        if (!metadata.get(record.id)) continue; // removed with a child already
        const refs = metadata.refsOf(record.id);
        if (refs.length > 0) {
          const shouldDelete = !danglingOnly || !refs.some((r) => r.digest === undefined);
          if (!shouldDelete) continue;
          for (const ref of refs) {
            deleted.push(...(await this.tryRemove(familiarString(ref), usage, stats)));
          }
        } else {
          deleted.push(...(await this.tryRemove(hexOf(record.id), usage, stats)));
        }
      }
      return { ImagesDeleted: deleted, SpaceReclaimed: stats.bytes };
    });
  }

  /**
   * Removes what a crash (or a container removal after `rmi -f`) left without an owner:
   * layers no image references and no container uses, and, with `blobs`, content no image
   * references. Call it at daemon start once containers are known; `blobs` only while
   * nothing else (a registry, a build cache) keeps blobs in the same content store.
   */
  async removeUnreferenced(usage: ImageUsage, opts: { blobs?: boolean } = {}): Promise<{ layers: Digest[]; blobs: Digest[] }> {
    const { metadata, layers, content } = this.stores;
    return this.gc.run(async () => {
      const blobsInUse = new Set<Digest>();
      const chainsInUse = new Set<Digest>();
      for (const record of metadata.list()) {
        const p = await this.resolver.parts(record);
        blobsInUse.add(record.target.digest);
        blobsInUse.add(p.manifest.config.digest);
        for (const l of p.manifest.layers) blobsInUse.add(l.digest);
        for (const c of chainIds(p.config.rootfs.diff_ids)) chainsInUse.add(c);
      }
      const all = await layers.list();
      const parents = new Set(all.map((l) => l.parent).filter((p): p is Digest => p !== null));
      const removedLayers: Digest[] = [];
      // Leaves first, repeatedly, so a parent goes only after its children.
      let remaining = all.filter((l) => !chainsInUse.has(l.chainId) && !usage.layerInUse(l.chainId));
      for (let progress = true; progress; ) {
        progress = false;
        for (const layer of remaining) {
          if (parents.has(layer.chainId)) continue;
          try {
            await layers.remove(layer.chainId);
          } catch (err) {
            if (errorKind(err) !== 'FailedPrecondition') throw err;
            continue; // a container's or a commit's snapshot is based on it
          }
          removedLayers.push(layer.chainId);
          progress = true;
        }
        const current = await layers.list();
        parents.clear();
        for (const l of current) if (l.parent !== null) parents.add(l.parent);
        remaining = current.filter((l) => !chainsInUse.has(l.chainId) && !usage.layerInUse(l.chainId));
      }
      const removedBlobs: Digest[] = [];
      if (opts.blobs) {
        for (const blob of await content.list()) {
          if (blobsInUse.has(blob.digest)) continue;
          await content.delete(blob.digest);
          removedBlobs.push(blob.digest);
        }
      }
      return { layers: removedLayers, blobs: removedBlobs };
    });
  }

  private async tryRemove(name: string, usage: ImageUsage, stats: { bytes: number }): Promise<ImageDeleteResponseItem[]> {
    try {
      return await this.removeLocked(name, false, true, usage, stats);
    } catch (err) {
      const kind = errorKind(err);
      if (kind === 'Conflict' || kind === 'NotFound') return [];
      throw err;
    }
  }

  private async removeLocked(name: string, force: boolean, prune: boolean, usage: ImageUsage, stats: { bytes: number }): Promise<ImageDeleteResponseItem[]> {
    const { metadata } = this.stores;
    const record = metadata.resolve(name);
    const id = record.id;
    let refs = metadata.refsOf(id);
    const items: ImageDeleteResponseItem[] = [];
    let removedRepositoryRef = false;
    if (!isImageIdPrefix(id, name)) {
      if (!force && isSingleReference(refs)) {
        const container = usage.containers(id)[0];
        if (container) {
          throw conflict(
            `conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(container.id)} is using its referenced image ${shortId(id)}`,
          );
        }
      }
      const ref = withDefaultTag(parseNormalizedNamed(name));
      const untagged: Reference[] = [ref];
      await metadata.update((tx) => {
        tx.removeRef(ref);
        if (ref.digest === undefined) {
          const remaining = tx.refsOf(id);
          const sameRepoTag = remaining.some((r) => r.digest === undefined && fullName(r) === fullName(ref));
          if (!sameRepoTag) {
            for (const r of remaining) {
              if (r.digest !== undefined && fullName(r) === fullName(ref)) {
                tx.removeRef(r);
                untagged.push(r);
              }
            }
          }
        }
      });
      for (const r of untagged) items.push({ Untagged: familiarString(r.digest !== undefined ? { ...r, tag: undefined } : r) });
      refs = metadata.refsOf(id);
      if (refs.length > 0) return items;
      removedRepositoryRef = true;
    } else if (isSingleReference(refs)) {
      const c = this.checkConflict(id, usage, { hard: true, stopped: !force, activeReference: false });
      if (c) throw c.error();
      await metadata.update((tx) => {
        for (const r of refs) tx.removeRef(r);
      });
      for (const r of refs) items.push({ Untagged: familiarString(r) });
    }
    await this.deleteHelper(id, items, force, prune, removedRepositoryRef, usage, stats);
    return items;
  }

  private async deleteHelper(
    id: Digest,
    items: ImageDeleteResponseItem[],
    force: boolean,
    prune: boolean,
    quiet: boolean,
    usage: ImageUsage,
    stats: { bytes: number },
  ): Promise<void> {
    const { metadata, logger } = this.stores;
    const c = this.checkConflict(id, usage, { hard: true, stopped: !force, activeReference: !force });
    if (c) {
      // Docker's imageIsDangling: no refs and no children.
      const dangling = metadata.refsOf(id).length === 0 && metadata.children(id).length === 0;
      if (quiet && (!dangling || c.used)) return;
      throw c.error();
    }
    const record = metadata.get(id);
    if (!record) return;
    const parts = await this.resolver.parts(record);
    const refs = metadata.refsOf(id);
    await metadata.update((tx) => tx.deleteImage(id));
    for (const r of refs) items.push({ Untagged: familiarString(r) });
    items.push({ Deleted: id });
    logger.debug('image deleted', { id });
    for (const chain of await this.collectGarbage(record, parts, usage, stats)) items.push({ Deleted: chain });
    if (!prune || record.parent === undefined || !metadata.get(record.parent)) return;
    await this.deleteHelper(record.parent, items, false, true, true, usage, stats);
  }

  private checkConflict(
    id: Digest,
    usage: ImageUsage,
    mask: { hard: boolean; stopped: boolean; activeReference: boolean },
  ): DeleteConflict | undefined {
    const { metadata } = this.stores;
    if (mask.hard && metadata.children(id).length > 0) return new DeleteConflict(id, true, false, 'image has dependent child images');
    const containers = usage.containers(id);
    const running = containers.find((c) => c.running);
    if (mask.hard && running) return new DeleteConflict(id, true, true, `image is being used by running container ${shortId(running.id)}`);
    if (mask.activeReference && metadata.refsOf(id).length > 0) return new DeleteConflict(id, false, false, 'image is referenced in multiple repositories');
    const stopped = containers.find((c) => !c.running);
    if (mask.stopped && stopped) return new DeleteConflict(id, false, true, `image is being used by stopped container ${shortId(stopped.id)}`);
    return undefined;
  }

  /**
   * After an image record is gone: deletes its blobs that no remaining image references,
   * and its layers (top down) that no remaining image and no container uses.
   * Returns the removed chain IDs.
   */
  private async collectGarbage(record: ImageRecord, parts: ImageParts, usage: ImageUsage, stats: { bytes: number }): Promise<Digest[]> {
    const { metadata, content, layers } = this.stores;
    const blobsInUse = new Set<Digest>();
    const chainsInUse = new Set<Digest>();
    for (const other of metadata.list()) {
      const p = await this.resolver.parts(other);
      blobsInUse.add(other.target.digest);
      blobsInUse.add(p.manifest.config.digest);
      for (const l of p.manifest.layers) blobsInUse.add(l.digest);
      for (const c of chainIds(p.config.rootfs.diff_ids)) chainsInUse.add(c);
    }
    for (const d of [record.target.digest, parts.manifest.config.digest, ...parts.manifest.layers.map((l) => l.digest)]) {
      if (blobsInUse.has(d) || !(await content.has(d))) continue;
      stats.bytes += (await content.info(d)).size;
      await content.delete(d);
    }
    this.resolver.forget(record.target.digest);
    const removed: Digest[] = [];
    for (const chain of chainIds(parts.config.rootfs.diff_ids).reverse()) {
      if (chainsInUse.has(chain) || usage.layerInUse(chain)) break; // its parents are in use too
      const layer = await layers.get(chain);
      if (!layer) continue;
      // A layer nothing names but that still has a child (left by an image removed while a
      // container used it) stays until the child goes: the startup sweep removes leaves first.
      if (!(await layers.remove(chain).then(() => true, (err: unknown) => (errorKind(err) === 'FailedPrecondition' ? false : Promise.reject(err))))) break;
      stats.bytes += layer.size;
      removed.push(chain);
    }
    return removed;
  }
}

function isImageIdPrefix(id: Digest, possiblePrefix: string): boolean {
  return id.startsWith(possiblePrefix) || hexOf(id).startsWith(possiblePrefix);
}

/** Docker's isSingleReference: one tag (plus digests of that same repository). */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | undefined;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonical.add(fullName(r));
    else if (single === undefined) single = r;
    else return false;
  }
  if (single === undefined) single = refs[0];
  return canonical.size === 1 && canonical.has(fullName(single));
}
