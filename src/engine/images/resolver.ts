import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ContentStore } from '../../content/types';
import type { LayerSnapshots } from '../../snapshots/types';
import type { ImageMetadataStore, ImageRecord } from '../../metadata/images';
import type { LeaseManager } from '../../metadata/leases';
import type { GarbageCollector } from '../../metadata/gc';
import type { Logger } from '../../util/logger';
import { Digest, chainIds } from '../../util/digest';
import { KeyedMutex } from '../../util/mutex';
import { errorKind } from '../../errors';
import { ImageConfig, ImageManifest, parseImageConfig, parseManifest } from '../../images/models';
import { familiarName, familiarString } from '../../images/reference';
import { decompressStream } from '../../images/compression';
import type { ResolvedImage } from './types';

/** The three stores the image modules coordinate: blobs, unpacked layers, records and refs. */
export interface ImageStores {
  content: ContentStore;
  layers: LayerSnapshots;
  metadata: ImageMetadataStore;
  logger: Logger;
  /** Leases for what load/commit/import write; default: in memory. */
  leases?: LeaseManager;
  /** The collector (and its lock) shared with the daemon; default: one over these stores, with no containers. */
  collector?: GarbageCollector;
}

export interface ImageParts {
  manifest: ImageManifest;
  config: ImageConfig;
  /** Chain IDs of config.rootfs.diff_ids (hashing them on every listing is measurable at 10k images). */
  chains: Digest[];
}

/**
 * Lookup: turns names and records into ResolvedImages (manifest and config parsed once per
 * manifest digest, which is immutable content), and unpacks an image's layers on demand.
 */
export class ImageResolver {
  private readonly unpacking = new KeyedMutex();
  private readonly partsCache = new Map<Digest, ImageParts>();
  /** Unpacked size by chain ID: a chain's content is fixed, so its size is too (listing 10k images must not read 10k layer records). */
  private readonly chainSizes = new Map<Digest, number>();

  constructor(private readonly stores: ImageStores) {}

  /** Changes whenever a listing of images could change: a metadata update, or a layer size learned. */
  get viewVersion(): string {
    return `${this.stores.metadata.generation}/${this.chainSizes.size}`;
  }

  /** Finds an image by name, name:tag, name@digest, ID or unique ID prefix. NotFound: "No such image: X". */
  async resolve(nameOrId: string): Promise<ResolvedImage> {
    return this.toResolved(this.stores.metadata.resolve(nameOrId));
  }

  /** Like resolve, but undefined instead of NotFound. */
  async find(nameOrId: string): Promise<ResolvedImage | undefined> {
    try {
      return await this.resolve(nameOrId);
    } catch (err) {
      if (errorKind(err) === 'NotFound') return undefined;
      throw err;
    }
  }

  async parts(record: Pick<ImageRecord, 'target'>): Promise<ImageParts> {
    const cached = this.partsCache.get(record.target.digest);
    if (cached) return cached;
    const { content } = this.stores;
    const manifest = parseManifest(await content.readBlob(record.target.digest), record.target.mediaType);
    const config = parseImageConfig(await content.readBlob(manifest.config.digest));
    const parts = { manifest, config, chains: chainIds(config.rootfs.diff_ids) };
    this.partsCache.set(record.target.digest, parts);
    return parts;
  }

  /** Drops a removed image's parsed manifest. */
  forget(manifestDigest: Digest): void {
    this.partsCache.delete(manifestDigest);
  }

  async toResolved(record: ImageRecord): Promise<ResolvedImage> {
    const cached = this.resolvedIfCached(record);
    if (cached) return cached;
    const { manifest, config, chains } = await this.parts(record);
    const refs = this.stores.metadata.refsOf(record.id);
    const diffIds = config.rootfs.diff_ids;
    const image: ResolvedImage = {
      id: record.id,
      record,
      manifest,
      config,
      runConfig: config.config ?? {},
      diffIds,
      chainId: chains.length > 0 ? chains[chains.length - 1] : null,
      repoTags: refs.filter((r) => r.digest === undefined).map(familiarString),
      repoDigests: refs.filter((r) => r.digest !== undefined).map((r) => `${familiarName(r)}@${r.digest}`),
      created: config.created ?? '',
      size: 0,
    };
    const known = chains.map((c) => this.chainSizes.get(c));
    const sizes = known.every((k) => k !== undefined) ? (known as number[]) : await this.layerSizes(image, chains);
    image.size = sizes.reduce((a, b) => a + b, 0);
    return image;
  }

  /**
   * The image without any I/O when its manifest is parsed and its layer sizes are known
   * (listing 10k images must not pay an await per image); otherwise undefined.
   */
  resolvedIfCached(record: ImageRecord): ResolvedImage | undefined {
    const parts = this.partsCache.get(record.target.digest);
    const size = this.cachedSize(record);
    if (!parts || size === undefined) return undefined;
    const { manifest, config, chains } = parts;
    const refs = this.stores.metadata.refsOf(record.id);
    return {
      id: record.id,
      record,
      manifest,
      config,
      runConfig: config.config ?? {},
      diffIds: config.rootfs.diff_ids,
      chainId: chains.length > 0 ? chains[chains.length - 1] : null,
      repoTags: refs.filter((r) => r.digest === undefined).map(familiarString),
      repoDigests: refs.filter((r) => r.digest !== undefined).map((r) => `${familiarName(r)}@${r.digest}`),
      created: config.created ?? '',
      size,
    };
  }

  /** The image's size without any I/O: undefined until its manifest is parsed and its layer sizes are known. */
  cachedSize(record: ImageRecord): number | undefined {
    const parts = this.partsCache.get(record.target.digest);
    if (!parts) return undefined;
    let size = 0;
    for (const c of parts.chains) {
      const known = this.chainSizes.get(c);
      if (known === undefined) return undefined;
      size += known;
    }
    return size;
  }

  /** Per-layer sizes: unpacked size when unpacked, else the blob size. */
  async layerSizes(image: ResolvedImage, chains = chainIds(image.diffIds)): Promise<number[]> {
    return Promise.all(
      chains.map(async (c, i) => {
        const known = this.chainSizes.get(c);
        if (known !== undefined) return known;
        const size = (await this.stores.layers.get(c))?.size;
        if (size !== undefined) this.chainSizes.set(c, size);
        return size ?? image.manifest.layers[i]?.size ?? 0;
      }),
    );
  }

  async graphDriverData(image: ResolvedImage): Promise<Record<string, string> | null> {
    const { layers } = this.stores;
    if (image.chainId === null || !(await layers.get(image.chainId))) return null;
    const dirs = await layers.lowerDirs(image.chainId);
    const top = await fs.realpath(dirs[0]).catch(() => dirs[0]);
    const data: Record<string, string> = { UpperDir: top, MergedDir: path.join(path.dirname(top), 'merged'), WorkDir: path.join(path.dirname(top), 'work') };
    if (dirs.length > 1) data.LowerDir = (await Promise.all(dirs.slice(1).map((d) => fs.realpath(d).catch(() => d)))).join(':');
    return data;
  }

  /** Unpacks every layer of the image not yet in the layer store; returns the top chain ID (null for scratch). */
  async ensureUnpacked(image: ResolvedImage): Promise<Digest | null> {
    const { content, layers } = this.stores;
    const chains = chainIds(image.diffIds);
    let parent: Digest | null = null;
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i];
      const parentChain: Digest | null = parent;
      await this.unpacking.run(chain, async () => {
        if (await layers.get(chain)) return;
        const blob = image.manifest.layers[i];
        const { stream } = await decompressStream(content.createReadStream(blob.digest));
        await layers.apply(parentChain, stream, image.diffIds[i]);
      });
      parent = chain;
    }
    return parent;
  }
}
