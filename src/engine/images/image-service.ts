import type { Readable } from 'node:stream';
import type { Digest } from '../../util/digest';
import { GarbageCollector, contentCollectable, layerCollectable } from '../../metadata/gc';
import { LeaseManager } from '../../metadata/leases';
import type { HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImageSummary } from '../../api/types/images';
import { ImageArchives } from './archives';
import { ImageCreation, type LeasedWrite, type NewImage } from './creation';
import type { ImageMetadataTx } from '../../metadata/images';
import { ImageListing } from './listing';
import { ImageRemoval } from './removal';
import { ImageResolver, ImageStores } from './resolver';
import { ImagePusher, type PushOptions } from './push/pusher';
import type { JsonStreamMessage } from '../../api/types/common';
import { tagReference } from './tagging';
import type { CommitLayerOptions, ImageUsage, ImportOptions, ListImagesOptions, LoadResult, PruneResult, ResolvedImage } from './types';
import { ImagePuller, PullOptions } from './pull/puller';
import type { PullSessions } from './pull/source';
import type { Reference } from '../../images/reference';
import { unavailable } from '../../errors';

export { tagReference };
export interface ImageServiceDeps extends ImageStores {
  /** The registry client pulls go through; without it pulls are refused. */
  registry?: PullSessions;
}

/**
 * The images backend, one module per job: lookup (`resolver.ts`), views (`listing.ts`),
 * removal (`removal.ts`), commit/import (`creation.ts`) and save/load (`archives.ts`).
 * It coordinates three stores: content (blobs), layers (unpacked chains) and metadata
 * (records and refs). Load, commit and import write under a lease (metadata/leases.ts) and
 * run concurrently; removal and garbage collection take the collector's lock exclusively
 * for short, local work, so they never delete what a running operation wrote.
 */
export class ImageService {
  readonly collector: GarbageCollector;
  private readonly resolver: ImageResolver;
  private readonly listing: ImageListing;
  private readonly removal: ImageRemoval;
  private readonly creation: ImageCreation;
  private readonly archives: ImageArchives;
  private readonly pusher: ImagePusher;
  private readonly puller: ImagePuller | undefined;

  constructor(private readonly stores: ImageServiceDeps) {
    const leases = stores.leases ?? new LeaseManager();
    this.collector =
      stores.collector ??
      new GarbageCollector({
        images: stores.metadata,
        containers: { references: () => [] },
        leases,
        content: stores.content,
        blobs: contentCollectable(stores.content),
        layers: layerCollectable(stores.layers),
        logger: stores.logger,
      });
    this.resolver = new ImageResolver(stores);
    this.listing = new ImageListing(stores, this.resolver);
    this.removal = new ImageRemoval(stores, this.resolver, this.collector);
    this.creation = new ImageCreation(stores, this.resolver, leases, this.collector);
    this.archives = new ImageArchives(stores, this.resolver, this.creation);
    this.pusher = new ImagePusher({ stores, resolver: this.resolver, leased: (operation, fn) => this.creation.leased(operation, fn) });
    this.puller = stores.registry ? new ImagePuller(stores, this.creation, stores.registry) : undefined;
  }

  // ---- lookup and views -------------------------------------------------------------

  /** Finds an image by name, name:tag, name@digest, ID or unique ID prefix. NotFound: "No such image: X". */
  resolve(nameOrId: string): Promise<ResolvedImage> {
    return this.resolver.resolve(nameOrId);
  }

  /** Like resolve, but undefined instead of NotFound. */
  find(nameOrId: string): Promise<ResolvedImage | undefined> {
    return this.resolver.find(nameOrId);
  }

  list(opts: ListImagesOptions = {}): Promise<ImageSummary[]> {
    return this.listing.list(opts);
  }

  inspect(name: string): Promise<ImageInspect> {
    return this.listing.inspect(name);
  }

  history(name: string): Promise<HistoryResponseItem[]> {
    return this.listing.history(name);
  }

  /** The images named and their descendants (`ps --filter ancestor=`). */
  withDescendants(names: readonly string[]): Promise<Set<Digest>> {
    return this.listing.withDescendants(names);
  }

  /** `docker system df`: every image with its container count and shared size, and the layers' total. */
  diskUsage(usage: ImageUsage): Promise<{ LayersSize: number; Images: ImageSummary[] }> {
    return this.listing.diskUsage(usage);
  }

  /** Unpacks every layer of the image not yet in the layer store; returns the top chain ID (null for scratch). */
  ensureUnpacked(image: ResolvedImage): Promise<Digest | null> {
    return this.resolver.ensureUnpacked(image);
  }

  /**
   * Runs `fn` while no removal, prune or collection can run (loads, commits and other
   * creates can): a container create holds it from resolving its image until its record
   * exists, so a concurrent prune cannot delete the image or its layers in between.
   */
  holding<T>(fn: () => Promise<T>): Promise<T> {
    return this.collector.lock.runShared(fn);
  }

  // ---- tagging and removal ----------------------------------------------------------

  /** `docker tag SOURCE REPO[:TAG]`. */
  async tag(source: string, repo: string, tag?: string): Promise<void> {
    const image = await this.resolve(source);
    await this.stores.metadata.setRef(tagReference(repo, tag), image.id);
  }

  /** `docker rmi` with Docker's untag/delete rules; returns the Untagged/Deleted items. */
  remove(name: string, opts: { force?: boolean; noprune?: boolean }, usage: ImageUsage): Promise<ImageDeleteResponseItem[]> {
    return this.removal.remove(name, opts, usage);
  }

  prune(opts: { all?: boolean; filters?: Record<string, string[]> }, usage: ImageUsage): Promise<PruneResult> {
    return this.removal.prune(opts, usage);
  }

  /** Removes layers (and, with `blobs`, content) no image references and no container uses. */
  removeUnreferenced(usage: ImageUsage, opts: { blobs?: boolean } = {}): Promise<{ layers: Digest[]; blobs: Digest[] }> {
    return this.removal.removeUnreferenced(usage, opts);
  }

  // ---- creating images and archives -------------------------------------------------

  commitLayer(opts: CommitLayerOptions): Promise<Digest> {
    return this.creation.commitLayer(opts);
  }

  /**
   * Runs a writing operation (a build) under a lease: layers it commits through
   * `w.makeProtected` and blobs through `w.content` are safe from collection until it ends;
   * then what no image references is collected.
   */
  leased<T>(operation: string, fn: (w: LeasedWrite) => Promise<T>): Promise<T> {
    return this.creation.leased(operation, fn);
  }

  /** Registers images whose layers are committed already (a build's result), with refs set in the same update. */
  register(images: NewImage[], w: LeasedWrite, refs: (tx: ImageMetadataTx, ids: Digest[]) => void): Promise<Digest[]> {
    return this.creation.register(images, w, refs);
  }

  importTarball(tar: Readable, opts: ImportOptions = {}): Promise<Digest> {
    return this.creation.importTarball(tar, opts);
  }

  save(names: readonly string[]): Promise<Readable> {
    return this.archives.save(names);
  }

  load(tar: Readable, opts: { quiet?: boolean } = {}): Promise<LoadResult> {
    return this.archives.load(tar, opts);
  }

  // ---- registries -------------------------------------------------------------------

  /** `docker push`: docker's progress messages; a bad name throws before the first one. */
  push(name: string, opts: PushOptions): AsyncGenerator<JsonStreamMessage> {
    return this.pusher.push(name, opts);
  }

  /** `docker pull` of a tag or digest, or of every tag (`allTags`); progress through `opts.progress`. Returns the image IDs. */
  pull(ref: Reference, allTags: boolean, opts: PullOptions): Promise<Digest[]> {
    if (!this.puller) throw unavailable('this daemon has no registry client');
    return this.puller.pullAll(ref, allTags, opts);
  }
}
