import { LABEL_GC_REF_CONTENT_PREFIX, LABEL_GC_REF_SNAPSHOT_PREFIX, LABEL_GC_ROOT, type ContentStore, type IngestManager } from '../content/types';
import type { Logger } from '../util/logger';
import type { Digest } from '../util/digest';
import { SharedExclusiveLock } from '../util/shared-lock';
import { errorKind, messageOf } from '../errors';
import type { ImageMetadataStore, ImageRecord } from './images';
import type { ContainerStore } from './containers';
import type { LeaseManager } from './leases';
import { readImageReferences } from './image-references';

/**
 * Garbage collection, mark and sweep from the roots (containerd's gc model):
 *  - images → their manifest, config and layer blobs, and their layer chains;
 *  - containers → their image's chains, their top chain, their RW root file system;
 *  - leases → whatever they hold (content, named ingests, layers/snapshots, RW roots);
 *  - blobs labelled `containerd.io/gc.root`, and what the `containerd.io/gc.ref.content.*`
 *    and `containerd.io/gc.ref.snapshot.*` labels of marked blobs point at;
 *  - a marked layer → its parents.
 * Everything else in the collected stores is removed. A named ingest (a resumable upload)
 * is removed when no lease holds it, no writer has it open, and it saw no write for
 * `ingestExpiryMs` (24 h by default): an upload a client gave up on. It runs at daemon
 * start, and in the background shortly after removals (`schedule`, debounced).
 *
 * Consistency with concurrent writers comes from one shared/exclusive lock: a collection
 * holds it exclusively from taking its snapshot of the roots to the end of the sweep;
 * writers hold it shared while they add a resource to their lease and make it visible (a
 * blob commit), while they release a lease, and while a container is created from an
 * image. Long work (receiving an upload, unpacking) happens outside it.
 */

/** One thing a collectable store holds. */
export interface CollectableItem {
  key: string;
  /** The key this one depends on (a layer's parent): it is removed only after this one. */
  parent?: string | null;
  size?: number;
  labels?: Record<string, string>;
}

/** The small interface the collector sweeps: the layer store, the coming snapshotter, the content store, RW roots. */
export interface Collectable {
  list(): Promise<CollectableItem[]>;
  /** One item, or undefined when absent (lets a targeted collection skip the listing). */
  stat?(key: string): Promise<CollectableItem | undefined>;
  remove(key: string): Promise<void>;
}

export interface GcDeps {
  images: ImageMetadataStore;
  containers: Pick<ContainerStore, 'references'>;
  leases: LeaseManager;
  /** Where manifests and configs are read from (only for image records without references). */
  content: ContentStore;
  blobs: Collectable;
  layers: Collectable;
  /** Containers' RW root file systems, keyed by container ID. */
  rootfs?: Collectable;
  /** Named ingests in flight (the content store); swept by a full collection. */
  ingests?: Pick<IngestManager, 'listIngests' | 'abortIngest'>;
  /** How long an unleased named ingest may go without a write before it is swept. Default 24 h. */
  ingestExpiryMs?: number;
  logger: Logger;
  lock?: SharedExclusiveLock;
}

export const DEFAULT_INGEST_EXPIRY_MS = 24 * 60 * 60 * 1000;

export interface GcResult {
  blobs: Array<{ key: string; size: number }>;
  layers: Array<{ key: string; size: number }>;
  rootfs: string[];
  leases: string[];
  /** Refs of the stale ingests removed. */
  ingests: string[];
}

export interface CollectOptions {
  /** Only these may be removed (an undo, an rmi): keys of blobs and layers. Default: anything unmarked. */
  only?: { blobs?: Iterable<string>; layers?: Iterable<string> };
  /** Skip the RW roots, stale ingests and expired leases (a targeted collection). */
  targeted?: boolean;
  /** Leave blobs alone. */
  skipBlobs?: boolean;
  /** More layer roots from the caller (layers under containers it knows of). */
  layerInUse?: (key: string) => boolean;
}


interface ImageRefs {
  blobs: Digest[];
  chains: Digest[];
}

export class GarbageCollector {
  readonly lock: SharedExclusiveLock;
  /** manifest digest → what the image references (immutable content, so cached). */
  private readonly refsCache = new Map<Digest, ImageRefs>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(private readonly deps: GcDeps) {
    this.lock = deps.lock ?? new SharedExclusiveLock();
  }

  /** Runs a collection in the background after `delayMs`; calls within that time coalesce. */
  schedule(delayMs = 250): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const run = this.collect().catch((err: unknown) => this.deps.logger.warn('garbage collection failed', { error: messageOf(err) }));
      this.running = run;
      void run.finally(() => {
        if (this.running === run) this.running = undefined;
      });
    }, delayMs);
    this.timer.unref();
  }

  /** Cancels a scheduled collection and waits for a running one. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  collect(options: CollectOptions = {}): Promise<GcResult> {
    return this.lock.runExclusive(() => this.collectLocked(options));
  }

  /** A collection for a caller that holds the lock exclusively already. */
  async collectLocked(options: CollectOptions = {}): Promise<GcResult> {
    const { deps } = this;
    const result: GcResult = { blobs: [], layers: [], rootfs: [], leases: [], ingests: [] };
    if (!options.targeted) result.leases = await deps.leases.removeExpired();

    // Candidates first, roots second: anything made visible after this listing is not a candidate.
    const only = options.only;
    const blobs = options.skipBlobs || (only && !only.blobs) ? [] : await this.listBlobs(only?.blobs);
    const layers = await deps.layers.list();
    const rootfs = options.targeted || !deps.rootfs ? [] : await deps.rootfs.list();
    const ingests = options.targeted || !deps.ingests ? [] : await deps.ingests.listIngests();

    const marked = await this.mark(blobs, layers, options.layerInUse);

    const staleBefore = Date.now() - (deps.ingestExpiryMs ?? DEFAULT_INGEST_EXPIRY_MS);
    for (const ingest of ingests) {
      if (marked.ingests.has(ingest.ref) || ingest.updatedAt > staleBefore) continue;
      try {
        await deps.ingests?.abortIngest(ingest.ref);
        result.ingests.push(ingest.ref);
      } catch (err) {
        // A writer holds it (it is in use after all), or it was committed or aborted meanwhile.
        if (errorKind(err) !== 'Unavailable' && errorKind(err) !== 'NotFound') throw err;
      }
    }

    const blobCandidates = only?.blobs ? new Set(only.blobs) : undefined;
    for (const blob of blobs) {
      if (marked.blobs.has(blob.key) || (blobCandidates && !blobCandidates.has(blob.key))) continue;
      await deps.blobs.remove(blob.key);
      result.blobs.push({ key: blob.key, size: blob.size ?? 0 });
    }
    const layerCandidates = only?.layers ? new Set(only.layers) : only ? new Set<string>() : undefined;
    for (const layer of childrenFirst(layers)) {
      if (marked.layers.has(layer.key) || (layerCandidates && !layerCandidates.has(layer.key))) continue;
      try {
        await deps.layers.remove(layer.key);
      } catch (err) {
        // A snapshot the collector does not see (a commit's, an unpack's) is based on it: it stays until that one goes.
        if (errorKind(err) === 'FailedPrecondition') continue;
        throw err;
      }
      result.layers.push({ key: layer.key, size: layer.size ?? 0 });
    }
    for (const root of rootfs) {
      if (marked.rootfs.has(root.key)) continue;
      await deps.rootfs?.remove(root.key);
      result.rootfs.push(root.key);
    }
    if (result.blobs.length + result.layers.length + result.rootfs.length + result.leases.length + result.ingests.length > 0) {
      deps.logger.info('garbage collected', { blobs: result.blobs.length, layers: result.layers.length, rootfs: result.rootfs.length, leases: result.leases.length, ingests: result.ingests.length });
    }
    return result;
  }

  private async listBlobs(only: Iterable<string> | undefined): Promise<CollectableItem[]> {
    const { blobs } = this.deps;
    if (!only || !blobs.stat) return blobs.list();
    const items: CollectableItem[] = [];
    for (const key of new Set(only)) {
      const item = await blobs.stat(key);
      if (item) items.push(item);
    }
    return items;
  }

  private async mark(
    blobs: CollectableItem[],
    layers: CollectableItem[],
    layerInUse: ((key: string) => boolean) | undefined,
  ): Promise<{ blobs: Set<string>; layers: Set<string>; rootfs: Set<string>; ingests: Set<string> }> {
    const { deps } = this;
    // One synchronous snapshot of every root.
    const images = deps.images.list();
    const containers = deps.containers.references();
    const leased = deps.leases.protectedResources();

    const markedBlobs = new Set<string>();
    const markedLayers = new Set<string>();
    const markedRootfs = new Set<string>();
    const markedIngests = new Set<string>();
    for (const entry of leased) {
      const slash = entry.indexOf('/');
      const type = entry.slice(0, slash);
      const id = entry.slice(slash + 1);
      if (type === 'content') markedBlobs.add(id);
      else if (type === 'layer' || type === 'snapshot') markedLayers.add(id);
      else if (type === 'rootfs') markedRootfs.add(id);
      else if (type === 'ingest') markedIngests.add(id);
    }
    const imageRefs = new Map<Digest, ImageRefs>();
    for (const record of images) {
      const refs = await this.imageRefs(record);
      imageRefs.set(record.id, refs);
      for (const b of refs.blobs) markedBlobs.add(b);
      for (const c of refs.chains) markedLayers.add(c);
    }
    for (const c of containers) {
      markedRootfs.add(c.id);
      if (c.chainId) markedLayers.add(c.chainId);
      for (const chain of imageRefs.get(c.imageId as Digest)?.chains ?? []) markedLayers.add(chain);
    }
    // Labels (when the content store keeps them): roots, and references from marked blobs.
    const byKey = new Map(blobs.map((b) => [b.key, b]));
    const pending: string[] = [];
    for (const b of blobs) if (b.labels?.[LABEL_GC_ROOT] !== undefined) pending.push(b.key);
    for (const key of markedBlobs) if (byKey.get(key)?.labels) pending.push(key);
    while (pending.length > 0) {
      const key = pending.pop() as string;
      markedBlobs.add(key);
      for (const [label, value] of Object.entries(byKey.get(key)?.labels ?? {})) {
        if (label.startsWith(LABEL_GC_REF_CONTENT_PREFIX) && !markedBlobs.has(value)) pending.push(value);
        else if (label.startsWith(LABEL_GC_REF_SNAPSHOT_PREFIX)) markedLayers.add(value);
      }
    }
    if (layerInUse) for (const l of layers) if (layerInUse(l.key)) markedLayers.add(l.key);
    // Parents of a kept layer are kept.
    const parentOf = new Map(layers.map((l) => [l.key, l.parent ?? null]));
    for (const key of [...markedLayers]) {
      for (let p = parentOf.get(key) ?? null; p !== null && !markedLayers.has(p); p = parentOf.get(p) ?? null) markedLayers.add(p);
    }
    return { blobs: markedBlobs, layers: markedLayers, rootfs: markedRootfs, ingests: markedIngests };
  }

  /**
   * An image's blobs and chains: from its record (schema 2), or read from its manifest and
   * config for a version 1 record a migration could not fill (cached: content is immutable).
   */
  private async imageRefs(record: ImageRecord): Promise<ImageRefs> {
    const stored = record.references;
    if (stored) return { blobs: [record.target.digest, stored.config, ...stored.layers], chains: stored.chains };
    const cached = this.refsCache.get(record.target.digest);
    if (cached) return cached;
    try {
      const read = await readImageReferences(this.deps.content, record.target);
      const refs = { blobs: [record.target.digest, read.config, ...read.layers], chains: read.chains };
      this.refsCache.set(record.target.digest, refs);
      return refs;
    } catch (err) {
      // Without knowing what it references, nothing can be collected safely.
      this.deps.logger.warn('cannot read an image for garbage collection; collection aborted', { id: record.id, error: messageOf(err) });
      throw err;
    }
  }
}

/** Layers ordered so that each comes before its parent. */
function childrenFirst(items: CollectableItem[]): CollectableItem[] {
  const parentOf = new Map(items.map((i) => [i.key, i.parent ?? null]));
  const depth = (key: string): number => {
    let d = 0;
    for (let p = parentOf.get(key) ?? null; p !== null && d < 1000; p = parentOf.get(p) ?? null) d++;
    return d;
  };
  return items.map((i) => ({ i, d: depth(i.key) })).sort((a, b) => b.d - a.d).map(({ i }) => i);
}

// ---- adapters ----------------------------------------------------------------------

/** The content store's blobs; labels are read when the store has them (`info().labels`). */
export function contentCollectable(content: ContentStore): Collectable {
  return {
    async list() {
      return (await content.list()).map((b) => {
        const labels = (b as { labels?: Record<string, string> }).labels;
        return { key: b.digest, size: b.size, ...(labels ? { labels } : {}) };
      });
    },
    async stat(key) {
      if (!(await content.has(key as Digest))) return undefined;
      const b = await content.info(key as Digest);
      const labels = (b as { labels?: Record<string, string> }).labels;
      return { key: b.digest, size: b.size, ...(labels ? { labels } : {}) };
    },
    remove: (key) => content.delete(key as Digest),
  };
}

/** Anything listing layers with their parents (the snapshots' LayerSnapshots). */
export function layerCollectable(layers: { list(): Promise<Array<{ chainId: Digest; parent: Digest | null; size: number }>>; remove(chainId: Digest): Promise<void> }): Collectable {
  return {
    async list() {
      return (await layers.list()).map((l) => ({ key: l.chainId, parent: l.parent, size: l.size }));
    },
    remove: (key) => layers.remove(key as Digest),
  };
}

/** A snapshotter: every snapshot by key, with its parent (walk/remove). */
export function snapshotCollectable(snapshotter: {
  walk(fn: (info: { name: string; parent: string | null }) => void | Promise<void>): Promise<void>;
  remove(key: string): Promise<void>;
}): Collectable {
  return {
    async list() {
      const items: CollectableItem[] = [];
      await snapshotter.walk((info) => {
        items.push({ key: info.name, parent: info.parent });
      });
      return items;
    },
    remove: (key) => snapshotter.remove(key),
  };
}

/** Containers' RW root file systems by container ID. */
export function rootfsCollectable(rootfs: { list(): Promise<string[]>; remove(id: string): Promise<void> }): Collectable {
  return {
    async list() {
      return (await rootfs.list()).map((key) => ({ key }));
    },
    remove: (key) => rootfs.remove(key),
  };
}
