import type { Readable } from 'node:stream';
import type { ImageMetadataTx, ImageReferences, NewImageRecord } from '../../metadata/images';
import { imageReferences, readImageReferences } from '../../metadata/image-references';
import { Digest, chainIds } from '../../util/digest';
import { invalidArgument, messageOf } from '../../errors';
import type { ContentStore } from '../../content/types';
import { ingestNew } from '../../content/ingest-new';
import type { GarbageCollector } from '../../metadata/gc';
import type { LeaseManager } from '../../metadata/leases';
import { leasedContent } from '../../metadata/leased-content';
import { Descriptor, ImageConfig, ImageManifest, encodeJson, parseManifest, HOST_PLATFORM } from '../../images/models';
import { MediaTypes } from '../../images/media-types';
import { Compression, decompressStream } from '../../images/compression';
import { applyConfigChanges } from '../../images/config-changes';
import { normalizeLayerTar } from '../../images/normalize-layer';
import type { ImageResolver, ImageStores } from './resolver';
import { tagReference } from './tagging';
import type { CommitLayerOptions, ImportOptions } from './types';

/** A new image about to be registered: its blobs are in the content store already. */
export interface NewImage {
  config: ImageConfig;
  layers: Descriptor[];
  parent?: Digest;
  /** Keep this manifest (from an archive) instead of writing a new one. */
  manifest?: Descriptor;
  /** The config's bytes, stored as they came (an archive's): its digest is the image ID, so it is never encoded again. */
  configBlob?: { digest: Digest; size: number };
}

/**
 * An operation writing content under a lease: blobs committed through `content` and
 * layers announced with `protectLayer` are protected until it ends; `newBlobs` and
 * `newChains` (what did not exist before) are collected when it ends unless referenced.
 */
export interface LeasedWrite {
  content: ContentStore;
  protectLayer(chainId: Digest): Promise<void>;
  /** Holds a blob the operation reads (a push) until it ends. */
  protectBlob(digest: Digest): Promise<void>;
  /** Runs `make` (which commits a layer) with the collector held off, and leases its layer before letting it go. */
  makeProtected<L extends { chainId: Digest }>(make: () => Promise<L>): Promise<L>;
  newBlobs: Set<Digest>;
  newChains: Digest[];
}

/**
 * Commit and import: adds a layer on top of an image and registers the result; also the
 * steps every image-creating operation shares (ingest, unpack with diff ID checks,
 * register, and undo of a failed attempt), which `load` uses too.
 */
export class ImageCreation {
  constructor(
    private readonly stores: ImageStores,
    private readonly resolver: ImageResolver,
    private readonly leases: LeaseManager,
    private readonly collector: GarbageCollector,
  ) {}

  /**
   * Runs `fn` under a new lease. Afterwards the lease goes, and what the operation added
   * that no image references (everything after a failure; an archive's extra files after
   * a success) is collected at once, unless another operation's lease holds it.
   */
  async leased<T>(operation: string, fn: (w: LeasedWrite) => Promise<T>): Promise<T> {
    const { leases, collector } = this;
    const lease = await leases.create({ labels: { 'berth.io/operation': operation } });
    const w: LeasedWrite = {
      content: leasedContent(this.stores.content, leases, lease.id, collector.lock),
      protectLayer: (chainId) => collector.lock.runShared(() => leases.addResource(lease.id, { type: 'layer', id: chainId })),
      protectBlob: (digest) => collector.lock.runShared(() => leases.addResource(lease.id, { type: 'content', id: digest })),
      makeProtected: (make) =>
        collector.lock.runShared(async () => {
          const layer = await make();
          await leases.addResource(lease.id, { type: 'layer', id: layer.chainId });
          return layer;
        }),
      newBlobs: new Set(),
      newChains: [],
    };
    try {
      return await fn(w);
    } finally {
      await collector.lock.runShared(() => leases.delete(lease.id));
      if (w.newBlobs.size > 0 || w.newChains.length > 0) {
        await collector
          .collect({ only: { blobs: w.newBlobs, layers: w.newChains }, targeted: true })
          .catch((err: unknown) => this.stores.logger.warn('cannot remove what a finished operation left', { operation, error: messageOf(err) }));
      }
    }
  }

  /**
   * Adds one layer on top of `parentImage` (or on nothing) and registers the new image:
   * `docker commit`, `docker import` and the built-in bootstraps use it. The layer is stored
   * uncompressed (application/vnd.oci.image.layer.v1.tar), so its blob digest is its diff ID.
   */
  async commitLayer(opts: CommitLayerOptions): Promise<Digest> {
    const { content, layers } = this.stores;
    const ref = opts.repo !== undefined && opts.repo !== '' ? tagReference(opts.repo, opts.tag) : undefined;
    return this.leased('commit', async (w) => {
      const { newBlobs, newChains } = w;
      for (const c of chainIds(opts.parentImage?.diffIds ?? [])) await w.protectLayer(c);
      const parentChain = opts.parentImage ? await this.resolver.ensureUnpacked(opts.parentImage) : null;
      let blob: { digest: Digest; size: number };
      const made = opts.makeLayer ? await w.makeProtected(opts.makeLayer) : opts.layer;
      if (made) {
        await w.protectLayer(made.chainId);
        blob = await this.committedLayer(made, opts.parentImage?.diffIds ?? [], parentChain);
      } else {
        if (!opts.diffTar) throw invalidArgument('a new layer needs its tar or a committed layer');
        blob = await this.ingestTracked(opts.diffTar, newBlobs, w.content);
        const chain = chainIds([...(opts.parentImage?.diffIds ?? []), blob.digest]).pop() as Digest;
        await w.protectLayer(chain);
        const existed = await layers.get(chain);
        await layers.apply(parentChain, content.createReadStream(blob.digest), blob.digest);
        if (!existed) newChains.push(chain);
      }

      // As moby's NewChildImage: a commit that changed nothing adds no layer, only a history
      // entry marked empty_layer; the empty layer made is collected when the lease ends.
      const emptyCommit = made !== undefined && made.diffId === EMPTY_TAR_DIFF_ID;
      if (emptyCommit) newChains.push(made.chainId);
      const diffIds = [...(opts.parentImage?.diffIds ?? []), ...(emptyCommit ? [] : [blob.digest])];
      const created = opts.created ?? new Date().toISOString();
      const parent = opts.parentImage?.config;
      const runConfig = applyConfigChanges(opts.config ?? parent?.config ?? {}, opts.changes ?? []);
      const config: ImageConfig = {
        architecture: parent?.architecture ?? HOST_PLATFORM.architecture,
        os: parent?.os ?? HOST_PLATFORM.os,
        ...(parent?.variant ? { variant: parent.variant } : {}),
        created,
        ...(opts.author ? { author: opts.author } : {}),
        ...(opts.comment ? { comment: opts.comment } : {}),
        ...(opts.container ? { container: opts.container } : {}),
        ...(opts.containerConfig ? { container_config: opts.containerConfig } : {}),
        config: runConfig,
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: [
          ...(parent?.history ?? []),
          {
            created,
            ...(opts.author ? { author: opts.author } : {}),
            created_by: opts.createdBy ?? '',
            ...(opts.comment ? { comment: opts.comment } : {}),
            ...(emptyCommit ? { empty_layer: true } : {}),
          },
        ],
      };
      const layerDescriptor: Descriptor = { mediaType: MediaTypes.ociLayer, digest: blob.digest, size: blob.size };
      const id = await this.register(
        [{ config, layers: [...(opts.parentImage?.manifest.layers ?? []), ...(emptyCommit ? [] : [layerDescriptor])], parent: opts.parentImage?.id }],
        w,
        (tx, ids) => {
          if (ref) tx.setRef(ref, ids[0]);
        },
      );
      return id[0];
    });
  }

  /** `docker import`: a rootfs tarball (plain, gzip, xz, bzip2 or zstd) becomes a one-layer image. */
  async importTarball(tar: Readable, opts: ImportOptions = {}): Promise<Digest> {
    const { stream } = await decompressStream(tar);
    const message = opts.message || `Imported from ${opts.source ?? '-'}`;
    return this.commitLayer({
      diffTar: normalizeLayerTar(stream),
      config: {},
      changes: opts.changes,
      comment: message,
      repo: opts.repo,
      tag: opts.tag,
    });
  }

  /**
   * Checks that a layer committed already sits where the new image needs it; the image
   * then names it by diff ID and tar size, and its blob is made when first needed
   * (`ensureLayerBlobs`).
   */
  private async committedLayer(layer: { chainId: Digest; diffId: Digest; tarSize: number }, parentDiffIds: Digest[], parentChain: Digest | null): Promise<{ digest: Digest; size: number }> {
    const found = await this.stores.layers.get(layer.chainId);
    if (!found || found.diffId !== layer.diffId || found.parent !== parentChain || chainIds([...parentDiffIds, layer.diffId]).pop() !== layer.chainId) {
      throw invalidArgument(`layer ${layer.chainId} does not exist on the image's layers`);
    }
    return { digest: layer.diffId, size: layer.tarSize };
  }

  /** Ingests a blob under the operation's lease, remembering it in `newBlobs` when this write added it. */
  private async ingestTracked(source: Readable | Uint8Array, newBlobs: Set<Digest>, content: ContentStore): Promise<{ digest: Digest; size: number }> {
    const blob = await ingestNew(content, source as AsyncIterable<Uint8Array> | Uint8Array);
    if (blob.added) newBlobs.add(blob.digest);
    return { digest: blob.digest, size: blob.size };
  }

  /**
   * Writes config and manifest blobs for each new image, then records the images (and,
   * through `refs`, their tags) in one metadata update. Returns the image IDs.
   */
  async register(images: NewImage[], w: LeasedWrite, refs: (tx: ImageMetadataTx, ids: Digest[]) => void): Promise<Digest[]> {
    const { metadata } = this.stores;
    const { content, newBlobs } = w;
    const records: NewImageRecord[] = [];
    const now = new Date().toISOString();
    for (const img of images) {
      if (img.layers.length !== img.config.rootfs.diff_ids.length) {
        throw invalidArgument(`invalid image: ${img.layers.length} layers but ${img.config.rootfs.diff_ids.length} diff IDs`);
      }
      let id: Digest;
      let target: Descriptor;
      let references: ImageReferences;
      if (img.manifest) {
        const manifest = parseManifest(await content.readBlob(img.manifest.digest), img.manifest.mediaType);
        id = manifest.config.digest;
        target = img.manifest;
        references = imageReferences(manifest, img.config);
      } else {
        const configBlob = img.configBlob ?? (await this.ingestTracked(encodeJson(img.config), newBlobs, content));
        id = configBlob.digest;
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
          layers: img.layers,
        };
        const manifestBlob = await this.ingestTracked(encodeJson(manifest), newBlobs, content);
        target = { mediaType: MediaTypes.ociManifest, digest: manifestBlob.digest, size: manifestBlob.size };
        references = imageReferences(manifest, img.config);
      }
      const existing = metadata.get(id);
      // An image registered again keeps its manifest, so the references must be that manifest's.
      if (existing) references = existing.references ?? (await readImageReferences(content, existing.target));
      records.push({
        id,
        target: existing?.target ?? target,
        references,
        registeredAt: existing?.registeredAt ?? now,
        ...(img.parent ? { parent: img.parent } : existing?.parent ? { parent: existing.parent } : {}),
        ...(existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
      });
    }
    const ids = records.map((r) => r.id);
    // Blobs this operation added but no registered image references (an archive's VERSION
    // and json files, other platforms' manifests) are collected when the lease ends.
    await metadata.update((tx) => {
      for (const r of records) tx.putImage(r);
      refs(tx, ids);
    });
    return ids;
  }

  /** Unpacks an image's layers (verifying diff IDs), recording chains it created. */
  async unpackNew(image: NewImage, w: LeasedWrite): Promise<Digest[]> {
    const { content, layers } = this.stores;
    const { newChains } = w;
    const diffIds = image.config.rootfs.diff_ids;
    if (image.layers.length !== diffIds.length) {
      throw invalidArgument(`invalid image: ${image.layers.length} layers but ${diffIds.length} diff IDs`);
    }
    const chains = chainIds(diffIds);
    let parent: Digest | null = null;
    for (let i = 0; i < chains.length; i++) {
      await w.protectLayer(chains[i]);
      if (!(await layers.get(chains[i]))) {
        const blob = image.layers[i];
        if (detectMediaCompression(blob.mediaType) === 'none' && blob.digest !== diffIds[i]) {
          throw invalidArgument(`invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${blob.digest}"`);
        }
        const { stream } = await decompressStream(content.createReadStream(blob.digest, { verify: true }));
        try {
          await layers.apply(parent, stream, diffIds[i]);
        } catch (err) {
          throw invalidArgument(`invalid layer ${i} (${blob.digest}): ${err instanceof Error ? err.message : String(err)}`, err);
        }
        newChains.push(chains[i]);
      }
      parent = chains[i];
    }
    return chains;
  }
}

/** The diff ID of a tar with no entries (1024 zero bytes), moby's layer.DigestSHA256EmptyTar. */
const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' as Digest;

function detectMediaCompression(mediaType: string): Compression | 'unknown' {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType === MediaTypes.ociLayer || mediaType === MediaTypes.dockerLayer) return 'none';
  return 'unknown';
}
