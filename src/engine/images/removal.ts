import type { ImageRecord } from '../../metadata/images';
import { Digest, chainIds, hexOf } from '../../util/digest';
import type { GarbageCollector } from '../../metadata/gc';
import { EngineError, conflict, errorKind, invalidArgument } from '../../errors';
import type { ImageDeleteResponseItem } from '../../api/types/images';
import { Reference, familiarString, fullName, parseNormalizedNamed, withDefaultTag } from '../../images/reference';
import { matchLabels, parseUntil } from './filters';
import type { ImageResolver, ImageStores } from './resolver';
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
 * leaves without an owner. Runs under the collector's lock held exclusively: short, local
 * work, during which no lease can change and no container can be created.
 */
export class ImageRemoval {
  constructor(
    private readonly stores: ImageStores,
    private readonly resolver: ImageResolver,
    private readonly collector: GarbageCollector,
  ) {}

  /** `docker rmi` with Docker's untag/delete rules; returns the Untagged/Deleted items. */
  async remove(name: string, opts: { force?: boolean; noprune?: boolean }, usage: ImageUsage): Promise<ImageDeleteResponseItem[]> {
    return this.collector.lock.runExclusive(() => this.removeLocked(name, opts.force ?? false, !(opts.noprune ?? false), usage, { bytes: 0 }));
  }

  async prune(opts: { all?: boolean; filters?: Record<string, string[]> }, usage: ImageUsage): Promise<PruneResult> {
    const { metadata } = this.stores;
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) if (!PRUNE_FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const danglingOnly = !(opts.all ?? false) && !(filters.dangling ?? []).some((v) => v === 'false' || v === '0');
    const until = (filters.until ?? []).map(parseUntil);
    return this.collector.lock.runExclusive(async () => {
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
   * references (a full collection: see metadata/gc.ts).
   */
  async removeUnreferenced(usage: ImageUsage, opts: { blobs?: boolean } = {}): Promise<{ layers: Digest[]; blobs: Digest[] }> {
    const result = await this.collector.collect({ skipBlobs: !opts.blobs, layerInUse: (key) => usage.layerInUse(key as Digest) });
    return { layers: result.layers.map((l) => l.key as Digest), blobs: result.blobs.map((b) => b.key as Digest) };
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
    const chains = chainIds(parts.config.rootfs.diff_ids);
    const blobs = [record.target.digest, parts.manifest.config.digest, ...parts.manifest.layers.map((l) => l.digest)];
    await metadata.update((tx) => tx.deleteImage(id));
    for (const r of refs) items.push({ Untagged: familiarString(r) });
    items.push({ Deleted: id });
    logger.debug('image deleted', { id });
    // What only this image held goes now (the layers listed as Docker does); a lease or another image keeps the rest.
    const collected = await this.collector.collectLocked({ only: { blobs, layers: chains }, targeted: true, layerInUse: (key) => usage.layerInUse(key as Digest) });
    this.resolver.forget(record.target.digest);
    for (const b of collected.blobs) stats.bytes += b.size;
    for (const l of collected.layers) {
      stats.bytes += l.size;
      items.push({ Deleted: l.key });
    }
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
}

function isImageIdPrefix(id: Digest, possiblePrefix: string): boolean {
  return id.startsWith(possiblePrefix) || hexOf(id).startsWith(possiblePrefix);
}

/** Docker's isSingleReference: one tag (plus digests of that same repository). */
function isSingleReference(refs: readonly Reference[]): boolean {
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
