import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ContentStore } from '../../content/types';
import type { LayerStore } from '../../snapshots/types';
import type { ImageMetadataStore, ImageMetadataTx, ImageRecord } from '../../metadata/images';
import type { Logger } from '../../util/logger';
import { Digest, Digester, chainIds, hexOf } from '../../util/digest';
import { KeyedMutex, Mutex } from '../../util/mutex';
import { EngineError, conflict, errorKind, invalidArgument } from '../../errors';
import type { HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImageSummary } from '../../api/types/images';
import {
  Descriptor,
  ImageConfig,
  ImageManifest,
  encodeJson,
  parseImageConfig,
  parseIndex,
  parseManifest,
  selectPlatformManifest,
  ANNOTATION_CONTAINERD_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  HOST_PLATFORM,
} from '../../images/models';
import { MediaTypes, isIndexType } from '../../images/media-types';
import {
  Reference,
  familiarMatch,
  familiarName,
  familiarString,
  fullName,
  isValidTag,
  parseAnyReference,
  parseNormalizedNamed,
  withDefaultTag,
} from '../../images/reference';
import { Compression, decompressStream, detectCompression } from '../../images/compression';
import { applyConfigChanges } from '../../images/config-changes';
import { normalizeLayerTar } from '../../images/normalize-layer';
import { readArchive } from '../../images/archive/read-archive';
import { ArchiveImage, writeArchive } from '../../images/archive/write-archive';
import { toHistory, toInspect, toSummary, unixSeconds } from './views';
import type {
  CommitLayerOptions,
  ImageUsage,
  ImportOptions,
  ListImagesOptions,
  LoadResult,
  PruneResult,
  ResolvedImage,
} from './types';

export interface ImageServiceDeps {
  content: ContentStore;
  layers: LayerStore;
  metadata: ImageMetadataStore;
  logger: Logger;
}

interface ImageParts {
  manifest: ImageManifest;
  config: ImageConfig;
}

/** A new image about to be registered: its blobs are in the content store already. */
interface NewImage {
  config: ImageConfig;
  layers: Descriptor[];
  parent?: Digest;
  /** Keep this manifest (from an archive) instead of writing a new one. */
  manifest?: Descriptor;
}

const LIST_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference', 'until']);
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
 * The images backend: resolves names, lists and inspects, tags and removes, unpacks layers,
 * commits and imports layers, saves and loads archives. It coordinates three stores:
 * content (blobs), layers (unpacked chains) and metadata (records and refs). Operations
 * that add or remove blobs run one at a time (`gc`), so a removal never deletes a blob a
 * concurrent load or commit is about to reference.
 */
export class ImageService {
  private readonly content: ContentStore;
  private readonly layers: LayerStore;
  private readonly metadata: ImageMetadataStore;
  private readonly logger: Logger;
  private readonly gc = new Mutex();
  private readonly unpacking = new KeyedMutex();
  /** Parsed manifest+config by manifest digest (immutable content). */
  private readonly partsCache = new Map<Digest, ImageParts>();

  constructor(deps: ImageServiceDeps) {
    this.content = deps.content;
    this.layers = deps.layers;
    this.metadata = deps.metadata;
    this.logger = deps.logger;
  }

  // ---- lookups ----------------------------------------------------------------------

  /** Finds an image by name, name:tag, name@digest, ID or unique ID prefix. NotFound: "No such image: X". */
  async resolve(nameOrId: string): Promise<ResolvedImage> {
    return this.toResolved(this.metadata.resolve(nameOrId));
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

  async list(opts: ListImagesOptions = {}): Promise<ImageSummary[]> {
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const danglingValues = filters.dangling ?? [];
    for (const v of danglingValues) if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw invalidArgument(`invalid filter 'dangling=${v}'`);
    const danglingOnly = danglingValues.some((v) => v === 'true' || v === '1');
    const beforeTimes = await Promise.all((filters.before ?? []).map(async (n) => unixSeconds((await this.resolve(n)).created)));
    const sinceTimes = await Promise.all((filters.since ?? []).map(async (n) => unixSeconds((await this.resolve(n)).created)));
    const until = (filters.until ?? []).map(parseUntil);
    const patterns = filters.reference ?? [];

    const result: ImageSummary[] = [];
    for (const record of this.metadata.list()) {
      const image = await this.toResolved(record);
      const created = unixSeconds(image.created);
      if (beforeTimes.some((t) => created >= t)) continue;
      if (sinceTimes.some((t) => created <= t)) continue;
      if (until.some((t) => created > t)) continue;
      if (!matchLabels(filters.label ?? [], image.runConfig.Labels ?? {})) continue;
      const repoTags: string[] = [];
      const repoDigests: string[] = [];
      for (const ref of this.metadata.refsOf(record.id)) {
        if (patterns.length > 0 && !patterns.some((p) => familiarMatch(p, ref))) continue;
        if (ref.digest !== undefined) repoDigests.push(`${familiarName(ref)}@${ref.digest}`);
        else repoTags.push(familiarString(ref));
      }
      if (repoTags.length === 0 && repoDigests.length === 0) {
        const intermediate = this.metadata.children(record.id).length > 0;
        if (intermediate && !opts.all) continue;
        if (danglingValues.length > 0 && !danglingOnly) continue;
        if (patterns.length > 0) continue;
      } else if (danglingOnly && repoTags.length > 0) {
        continue;
      }
      result.push(toSummary(image, repoTags, repoDigests));
    }
    return result.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  async inspect(name: string): Promise<ImageInspect> {
    const image = await this.resolve(name);
    return toInspect(image, await this.graphDriverData(image));
  }

  async history(name: string): Promise<HistoryResponseItem[]> {
    const image = await this.resolve(name);
    const sizes = await this.layerSizes(image);
    return toHistory(image, sizes);
  }

  // ---- layers -----------------------------------------------------------------------

  /** Unpacks every layer of the image not yet in the layer store; returns the top chain ID (null for scratch). */
  async ensureUnpacked(image: ResolvedImage): Promise<Digest | null> {
    const chains = chainIds(image.diffIds);
    let parent: Digest | null = null;
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i];
      const parentChain: Digest | null = parent;
      await this.unpacking.run(chain, async () => {
        if (await this.layers.get(chain)) return;
        const blob = image.manifest.layers[i];
        const { stream } = await decompressStream(this.content.createReadStream(blob.digest));
        await this.layers.apply(parentChain, stream, image.diffIds[i]);
      });
      parent = chain;
    }
    return parent;
  }

  /**
   * Runs `fn` while no removal, prune, load or commit can run: a container create holds it
   * from resolving its image until its record exists, so a concurrent prune cannot delete
   * the image or its layers in between.
   */
  holding<T>(fn: () => Promise<T>): Promise<T> {
    return this.gc.run(fn);
  }

  // ---- tagging and removal ----------------------------------------------------------

  /** `docker tag SOURCE REPO[:TAG]`. */
  async tag(source: string, repo: string, tag?: string): Promise<void> {
    const image = await this.resolve(source);
    const ref = tagReference(repo, tag);
    await this.metadata.setRef(ref, image.id);
  }

  /** `docker rmi` with Docker's untag/delete rules; returns the Untagged/Deleted items. */
  async remove(name: string, opts: { force?: boolean; noprune?: boolean }, usage: ImageUsage): Promise<ImageDeleteResponseItem[]> {
    return this.gc.run(() => this.removeLocked(name, opts.force ?? false, !(opts.noprune ?? false), usage, { bytes: 0 }));
  }

  async prune(opts: { all?: boolean; filters?: Record<string, string[]> }, usage: ImageUsage): Promise<PruneResult> {
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) if (!PRUNE_FILTERS.has(key)) throw invalidArgument(`invalid filter '${key}'`);
    const danglingOnly = !(opts.all ?? false) && !(filters.dangling ?? []).some((v) => v === 'false' || v === '0');
    const until = (filters.until ?? []).map(parseUntil);
    return this.gc.run(async () => {
      const stats = { bytes: 0 };
      const deleted: ImageDeleteResponseItem[] = [];
      const candidates: ImageRecord[] = [];
      for (const record of this.metadata.list()) {
        const refs = this.metadata.refsOf(record.id);
        const children = this.metadata.children(record.id);
        if (danglingOnly && children.length > 0) continue;
        if (refs.length === 0 && children.length > 0) continue;
        const image = await this.toResolved(record);
        if (until.some((t) => unixSeconds(image.created) > t)) continue;
        if (!matchLabels(filters.label ?? [], image.runConfig.Labels ?? {})) continue;
        candidates.push(record);
      }
      for (const record of candidates) {
        if (!this.metadata.get(record.id)) continue; // removed with a child already
        const refs = this.metadata.refsOf(record.id);
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

  /** `docker system df`: every image with its container count and shared size, and the layers' total. */
  async diskUsage(usage: ImageUsage): Promise<{ LayersSize: number; Images: ImageSummary[] }> {
    const images = await Promise.all(this.metadata.list().map((r) => this.toResolved(r)));
    const chainUsers = new Map<Digest, number>();
    for (const image of images) for (const c of chainIds(image.diffIds)) chainUsers.set(c, (chainUsers.get(c) ?? 0) + 1);
    let layersSize = 0;
    for (const layer of await this.layers.list()) layersSize += layer.size;
    const summaries: ImageSummary[] = [];
    for (const image of images) {
      const chains = chainIds(image.diffIds);
      let shared = 0;
      for (const c of chains) {
        if ((chainUsers.get(c) ?? 0) > 1) shared += (await this.layers.get(c))?.size ?? 0;
      }
      summaries.push({ ...toSummary(image), SharedSize: shared, Containers: usage.containers(image.id).length });
    }
    return { LayersSize: layersSize, Images: summaries };
  }

  /**
   * Removes what a crash (or a container removal after `rmi -f`) left without an owner:
   * layers no image references and no container uses, and, with `blobs`, content no image
   * references. Call it at daemon start once containers are known; `blobs` only while
   * nothing else (a registry, a build cache) keeps blobs in the same content store.
   */
  async removeUnreferenced(usage: ImageUsage, opts: { blobs?: boolean } = {}): Promise<{ layers: Digest[]; blobs: Digest[] }> {
    return this.gc.run(async () => {
      const blobsInUse = new Set<Digest>();
      const chainsInUse = new Set<Digest>();
      for (const record of this.metadata.list()) {
        const p = await this.parts(record);
        blobsInUse.add(record.target.digest);
        blobsInUse.add(p.manifest.config.digest);
        for (const l of p.manifest.layers) blobsInUse.add(l.digest);
        for (const c of chainIds(p.config.rootfs.diff_ids)) chainsInUse.add(c);
      }
      const all = await this.layers.list();
      const parents = new Set(all.map((l) => l.parent).filter((p): p is Digest => p !== null));
      const removedLayers: Digest[] = [];
      // Leaves first, repeatedly, so a parent goes only after its children.
      let remaining = all.filter((l) => !chainsInUse.has(l.chainId) && !usage.layerInUse(l.chainId));
      for (let progress = true; progress; ) {
        progress = false;
        for (const layer of remaining) {
          if (parents.has(layer.chainId)) continue;
          await this.layers.remove(layer.chainId);
          removedLayers.push(layer.chainId);
          progress = true;
        }
        const current = await this.layers.list();
        parents.clear();
        for (const l of current) if (l.parent !== null) parents.add(l.parent);
        remaining = current.filter((l) => !chainsInUse.has(l.chainId) && !usage.layerInUse(l.chainId));
      }
      const removedBlobs: Digest[] = [];
      if (opts.blobs) {
        for (const blob of await this.content.list()) {
          if (blobsInUse.has(blob.digest)) continue;
          await this.content.delete(blob.digest);
          removedBlobs.push(blob.digest);
        }
      }
      return { layers: removedLayers, blobs: removedBlobs };
    });
  }

  // ---- creating images --------------------------------------------------------------

  /**
   * Adds one layer on top of `parentImage` (or on nothing) and registers the new image:
   * `docker commit`, `docker import` and the built-in bootstraps use it. The layer is stored
   * uncompressed (application/vnd.oci.image.layer.v1.tar), so its blob digest is its diff ID.
   */
  async commitLayer(opts: CommitLayerOptions): Promise<Digest> {
    const ref = opts.repo !== undefined && opts.repo !== '' ? tagReference(opts.repo, opts.tag) : undefined;
    return this.gc.run(async () => {
      const newBlobs = new Set<Digest>();
      const newChains: Digest[] = [];
      try {
        const parentChain = opts.parentImage ? await this.ensureUnpacked(opts.parentImage) : null;
        const blob = await this.ingestTracked(opts.diffTar, newBlobs);
        const chain = chainIds([...(opts.parentImage?.diffIds ?? []), blob.digest]).pop() as Digest;
        const existed = await this.layers.get(chain);
        await this.layers.apply(parentChain, this.content.createReadStream(blob.digest), blob.digest);
        if (!existed) newChains.push(chain);

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
          config: runConfig,
          rootfs: { type: 'layers', diff_ids: [...(opts.parentImage?.diffIds ?? []), blob.digest] },
          history: [
            ...(parent?.history ?? []),
            {
              created,
              ...(opts.author ? { author: opts.author } : {}),
              created_by: opts.createdBy ?? '',
              ...(opts.comment ? { comment: opts.comment } : {}),
            },
          ],
        };
        const layerDescriptor: Descriptor = { mediaType: MediaTypes.ociLayer, digest: blob.digest, size: blob.size };
        const id = await this.register(
          [{ config, layers: [...(opts.parentImage?.manifest.layers ?? []), layerDescriptor], parent: opts.parentImage?.id }],
          newBlobs,
          (tx, ids) => {
            if (ref) tx.setRef(ref, ids[0]);
          },
        );
        return id[0];
      } catch (err) {
        await this.discard(newBlobs, newChains);
        throw err;
      }
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

  // ---- archives ---------------------------------------------------------------------

  /**
   * `docker save`: resolves every name first (NotFound before any byte is sent), then
   * streams an archive holding both an OCI layout and Docker's manifest.json. A bare
   * repository name saves all of its tags, as Docker does.
   */
  async save(names: readonly string[]): Promise<Readable> {
    const byId = new Map<Digest, { image: ResolvedImage; tags: Reference[] }>();
    const add = (image: ResolvedImage, tag?: Reference) => {
      const entry = byId.get(image.id) ?? { image, tags: [] };
      if (tag && !entry.tags.some((t) => familiarString(t) === familiarString(tag))) entry.tags.push(tag);
      byId.set(image.id, entry);
    };
    for (const name of names) {
      const any = safeParseAny(name);
      if (any?.kind === 'named' && any.ref.tag === undefined && any.ref.digest === undefined) {
        const tagged = this.metadata.allRefs().filter((r) => r.ref.tag !== undefined && r.ref.digest === undefined && fullName(r.ref) === fullName(any.ref));
        if (tagged.length > 0) {
          for (const r of tagged) add(await this.resolve(r.id), r.ref);
          continue;
        }
      }
      const image = await this.resolve(name);
      if (any?.kind === 'named' && this.metadata.lookupRef(any.ref) === image.id) {
        add(image, any.ref.digest === undefined ? withDefaultTag(any.ref) : undefined);
      } else add(image);
    }
    const images: ArchiveImage[] = [...byId.values()].map(({ image, tags }) => ({ manifest: image.record.target, body: image.manifest, tags }));
    return writeArchive(images, this.content);
  }

  /**
   * `docker load`: reads a docker-archive (manifest.json; Docker 20.10's `<id>/layer.tar`
   * form or Docker 25's blobs/) or an OCI layout archive (index.json). All or nothing:
   * every blob and every layer diff ID is checked before any image or tag is registered,
   * and a failure deletes the blobs and layers this load added.
   */
  async load(tar: Readable, _opts: { quiet?: boolean } = {}): Promise<LoadResult> {
    return this.gc.run(async () => {
      const archive = await readArchive(tar, this.content);
      const newChains: Digest[] = [];
      try {
        const planned = await this.planLoad(archive.files);
        if (planned.length === 0) throw invalidArgument('invalid archive: no manifest.json or index.json with images found');
        for (const p of planned) await this.unpackNew(p.image, newChains);
        const lines: string[] = [];
        const ids = await this.register(
          planned.map((p) => p.image),
          archive.newBlobs,
          (tx, ids) => {
            planned.forEach((p, i) => {
              const id = ids[i];
              for (const tag of p.tags) {
                const previous = tx.setRef(tag, id);
                if (previous !== undefined && tx.refsOf(previous).length === 0) {
                  lines.push(`The image ${familiarString(tag)} already exists, renaming the old one with ID ${previous} to empty string`);
                }
                lines.push(`Loaded image: ${familiarString(tag)}`);
              }
              if (p.tags.length === 0) lines.push(`Loaded image ID: ${id}`);
            });
          },
        );
        return { loaded: lines, ids };
      } catch (err) {
        await this.discard(archive.newBlobs, newChains);
        throw err;
      }
    });
  }

  // ---- internals --------------------------------------------------------------------

  private async parts(record: ImageRecord): Promise<ImageParts> {
    const cached = this.partsCache.get(record.target.digest);
    if (cached) return cached;
    const manifest = parseManifest(await this.content.readBlob(record.target.digest), record.target.mediaType);
    const config = parseImageConfig(await this.content.readBlob(manifest.config.digest));
    const parts = { manifest, config };
    this.partsCache.set(record.target.digest, parts);
    return parts;
  }

  private async toResolved(record: ImageRecord): Promise<ResolvedImage> {
    const { manifest, config } = await this.parts(record);
    const refs = this.metadata.refsOf(record.id);
    const diffIds = config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
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
    image.size = (await this.layerSizes(image)).reduce((a, b) => a + b, 0);
    return image;
  }

  /** Per-layer sizes: unpacked size when unpacked, else the blob size. */
  private async layerSizes(image: ResolvedImage): Promise<number[]> {
    const chains = chainIds(image.diffIds);
    return Promise.all(chains.map(async (c, i) => (await this.layers.get(c))?.size ?? image.manifest.layers[i]?.size ?? 0));
  }

  private async graphDriverData(image: ResolvedImage): Promise<Record<string, string> | null> {
    if (image.chainId === null || !(await this.layers.get(image.chainId))) return null;
    const dirs = await this.layers.lowerDirs(image.chainId);
    const top = await fs.realpath(dirs[0]).catch(() => dirs[0]);
    const data: Record<string, string> = { UpperDir: top, MergedDir: path.join(path.dirname(top), 'merged'), WorkDir: path.join(path.dirname(top), 'work') };
    if (dirs.length > 1) data.LowerDir = (await Promise.all(dirs.slice(1).map((d) => fs.realpath(d).catch(() => d)))).join(':');
    return data;
  }

  private async ingestTracked(source: Readable | Uint8Array, newBlobs: Set<Digest>): Promise<{ digest: Digest; size: number }> {
    const w = await this.content.writer();
    const d = new Digester();
    try {
      if (source instanceof Uint8Array) {
        d.update(source);
        await w.write(source);
      } else {
        for await (const chunk of source) {
          const buf = chunk as Buffer;
          d.update(buf);
          await w.write(buf);
        }
      }
    } catch (err) {
      await w.abort();
      throw err;
    }
    const digest = d.digest();
    const existed = await this.content.has(digest);
    const info = await w.commit();
    if (!existed) newBlobs.add(info.digest);
    return { digest: info.digest, size: info.size };
  }

  /**
   * Writes config and manifest blobs for each new image, then records the images (and,
   * through `refs`, their tags) in one metadata update. Returns the image IDs.
   */
  private async register(
    images: NewImage[],
    newBlobs: Set<Digest>,
    refs: (tx: ImageMetadataTx, ids: Digest[]) => void,
  ): Promise<Digest[]> {
    const records: ImageRecord[] = [];
    const now = new Date().toISOString();
    for (const img of images) {
      if (img.layers.length !== img.config.rootfs.diff_ids.length) {
        throw invalidArgument(`invalid image: ${img.layers.length} layers but ${img.config.rootfs.diff_ids.length} diff IDs`);
      }
      let id: Digest;
      let target: Descriptor;
      if (img.manifest) {
        id = parseManifest(await this.content.readBlob(img.manifest.digest), img.manifest.mediaType).config.digest;
        target = img.manifest;
      } else {
        const configBytes = encodeJson(img.config);
        const configBlob = await this.ingestTracked(configBytes, newBlobs);
        id = configBlob.digest;
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
          layers: img.layers,
        };
        const manifestBlob = await this.ingestTracked(encodeJson(manifest), newBlobs);
        target = { mediaType: MediaTypes.ociManifest, digest: manifestBlob.digest, size: manifestBlob.size };
      }
      const existing = this.metadata.get(id);
      records.push({
        id,
        target: existing?.target ?? target,
        registeredAt: existing?.registeredAt ?? now,
        ...(img.parent ? { parent: img.parent } : existing?.parent ? { parent: existing.parent } : {}),
        ...(existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
      });
    }
    const ids = records.map((r) => r.id);
    await this.metadata.update((tx) => {
      for (const r of records) tx.putImage(r);
      refs(tx, ids);
    });
    // Blobs this operation added but no registered image references (e.g. an archive's
    // VERSION and json files, other platforms' manifests) are not kept.
    const referenced = new Set<Digest>();
    for (const r of records) {
      const { manifest } = await this.parts(r);
      referenced.add(r.target.digest);
      referenced.add(manifest.config.digest);
      for (const l of manifest.layers) referenced.add(l.digest);
    }
    for (const d of newBlobs) if (!referenced.has(d)) await this.content.delete(d);
    newBlobs.clear();
    return ids;
  }

  /** Undo for a failed create/load: the blobs and layers it added. */
  private async discard(newBlobs: Set<Digest>, newChains: Digest[]): Promise<void> {
    for (const chain of [...newChains].reverse()) {
      await this.layers.remove(chain).catch((err: unknown) => this.logger.warn('cannot remove layer', { chain, err: String(err) }));
    }
    for (const d of newBlobs) await this.content.delete(d);
  }

  /** Unpacks an image's layers (verifying diff IDs), recording chains it created. */
  private async unpackNew(image: NewImage, newChains: Digest[]): Promise<Digest[]> {
    const diffIds = image.config.rootfs.diff_ids;
    if (image.layers.length !== diffIds.length) {
      throw invalidArgument(`invalid image: ${image.layers.length} layers but ${diffIds.length} diff IDs`);
    }
    const chains = chainIds(diffIds);
    let parent: Digest | null = null;
    for (let i = 0; i < chains.length; i++) {
      if (!(await this.layers.get(chains[i]))) {
        const blob = image.layers[i];
        if (detectMediaCompression(blob.mediaType) === 'none' && blob.digest !== diffIds[i]) {
          throw invalidArgument(`invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${blob.digest}"`);
        }
        const { stream } = await decompressStream(this.content.createReadStream(blob.digest, { verify: true }));
        try {
          await this.layers.apply(parent, stream, diffIds[i]);
        } catch (err) {
          throw invalidArgument(`invalid layer ${i} (${blob.digest}): ${err instanceof Error ? err.message : String(err)}`, err);
        }
        newChains.push(chains[i]);
      }
      parent = chains[i];
    }
    return chains;
  }

  /** Turns archive files into images to register (manifest.json first, else index.json). */
  private async planLoad(files: Map<string, { digest: Digest; size: number }>): Promise<Array<{ image: NewImage; tags: Reference[] }>> {
    const file = (p: string) => {
      const f = files.get(cleanPath(p));
      if (!f) throw invalidArgument(`invalid archive: ${p} is missing`);
      return f;
    };
    const readJson = async (p: string): Promise<unknown> => {
      try {
        return JSON.parse((await this.content.readBlob(file(p).digest)).toString());
      } catch (err) {
        if (err instanceof EngineError) throw err;
        throw invalidArgument(`invalid archive: ${p}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    const planned: Array<{ image: NewImage; tags: Reference[] }> = [];
    // Manifests from an OCI layout in the same archive, by config digest, to keep their digests.
    const ociManifests = new Map<Digest, Descriptor>();
    const ociPlanned: Array<{ image: NewImage; tags: Reference[] }> = [];
    if (files.has('index.json')) {
      const index = parseIndex(JSON.stringify(await readJson('index.json')), MediaTypes.ociIndex);
      for (const d of index.manifests) {
        const manifestDesc = await this.pickManifest(d);
        if (!manifestDesc) continue;
        const manifest = parseManifest(await this.content.readBlob(manifestDesc.digest), manifestDesc.mediaType);
        ociManifests.set(manifest.config.digest, manifestDesc);
        const config = parseImageConfig(await this.content.readBlob(manifest.config.digest));
        const tags: Reference[] = [];
        const name = d.annotations?.[ANNOTATION_CONTAINERD_IMAGE_NAME] ?? d.annotations?.[ANNOTATION_REF_NAME];
        if (name !== undefined && !isValidTag(name)) {
          const ref = parseNormalizedNamed(name);
          if (ref.digest === undefined) tags.push(withDefaultTag(ref));
        }
        const existing = ociPlanned.find((p) => p.image.manifest?.digest === manifestDesc.digest);
        if (existing) existing.tags.push(...tags);
        else ociPlanned.push({ image: { config, layers: manifest.layers, manifest: manifestDesc }, tags });
      }
    }
    if (files.has('manifest.json')) {
      const entries = await readJson('manifest.json');
      if (!Array.isArray(entries)) throw invalidArgument('invalid archive: manifest.json is not a list');
      for (const entry of entries as Array<{ Config?: unknown; RepoTags?: unknown; Layers?: unknown }>) {
        if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw invalidArgument('invalid archive: bad manifest.json entry');
        const configFile = file(entry.Config);
        const config = parseImageConfig(await this.content.readBlob(configFile.digest));
        const layers: Descriptor[] = [];
        for (const l of entry.Layers as unknown[]) {
          if (typeof l !== 'string') throw invalidArgument('invalid archive: bad layer path in manifest.json');
          const f = file(l);
          layers.push({ mediaType: layerMediaType(await this.blobCompression(f.digest)), digest: f.digest, size: f.size });
        }
        const tags = Array.isArray(entry.RepoTags)
          ? (entry.RepoTags as unknown[]).filter((t): t is string => typeof t === 'string').map((t) => withDefaultTag(parseNormalizedNamed(t)))
          : [];
        for (const t of tags) {
          if (t.digest !== undefined) throw invalidArgument(`invalid archive: tag ${familiarString(t)} has a digest`);
        }
        const oci = ociManifests.get(configFile.digest);
        const sameLayers = oci && (await this.manifestLayersMatch(oci, layers));
        planned.push({ image: { config, layers, ...(sameLayers ? { manifest: oci } : {}) }, tags });
      }
      return planned;
    }
    return ociPlanned;
  }

  private async manifestLayersMatch(desc: Descriptor, layers: Descriptor[]): Promise<boolean> {
    const m = parseManifest(await this.content.readBlob(desc.digest), desc.mediaType);
    return m.layers.length === layers.length && m.layers.every((l, i) => l.digest === layers[i].digest);
  }

  /** An index entry's image manifest for this platform (nested indexes followed). */
  private async pickManifest(d: Descriptor, depth = 0): Promise<Descriptor | undefined> {
    if (!isIndexType(d.mediaType)) return d;
    if (depth > 4) return undefined;
    const index = parseIndex(await this.content.readBlob(d.digest), d.mediaType);
    const chosen = selectPlatformManifest(index);
    return chosen ? this.pickManifest(chosen, depth + 1) : undefined;
  }

  private async blobCompression(d: Digest): Promise<Compression> {
    const handle = await fs.open(this.content.blobPath(d), 'r');
    try {
      const head = Buffer.alloc(6);
      const { bytesRead } = await handle.read(head, 0, 6, 0);
      return detectCompression(head.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
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
    const record = this.metadata.resolve(name);
    const id = record.id;
    let refs = this.metadata.refsOf(id);
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
      await this.metadata.update((tx) => {
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
      refs = this.metadata.refsOf(id);
      if (refs.length > 0) return items;
      removedRepositoryRef = true;
    } else if (isSingleReference(refs)) {
      const c = this.checkConflict(id, usage, { hard: true, stopped: !force, activeReference: false });
      if (c) throw c.error();
      await this.metadata.update((tx) => {
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
    const c = this.checkConflict(id, usage, { hard: true, stopped: !force, activeReference: !force });
    if (c) {
      // Docker's imageIsDangling: no refs and no children.
      const dangling = this.metadata.refsOf(id).length === 0 && this.metadata.children(id).length === 0;
      if (quiet && (!dangling || c.used)) return;
      throw c.error();
    }
    const record = this.metadata.get(id);
    if (!record) return;
    const parts = await this.parts(record);
    const refs = this.metadata.refsOf(id);
    await this.metadata.update((tx) => tx.deleteImage(id));
    for (const r of refs) items.push({ Untagged: familiarString(r) });
    items.push({ Deleted: id });
    this.logger.debug('image deleted', { id });
    for (const chain of await this.collectGarbage(record, parts, usage, stats)) items.push({ Deleted: chain });
    if (!prune || record.parent === undefined || !this.metadata.get(record.parent)) return;
    await this.deleteHelper(record.parent, items, false, true, true, usage, stats);
  }

  private checkConflict(
    id: Digest,
    usage: ImageUsage,
    mask: { hard: boolean; stopped: boolean; activeReference: boolean },
  ): DeleteConflict | undefined {
    if (mask.hard && this.metadata.children(id).length > 0) return new DeleteConflict(id, true, false, 'image has dependent child images');
    const containers = usage.containers(id);
    const running = containers.find((c) => c.running);
    if (mask.hard && running) return new DeleteConflict(id, true, true, `image is being used by running container ${shortId(running.id)}`);
    if (mask.activeReference && this.metadata.refsOf(id).length > 0) return new DeleteConflict(id, false, false, 'image is referenced in multiple repositories');
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
    const blobsInUse = new Set<Digest>();
    const chainsInUse = new Set<Digest>();
    for (const other of this.metadata.list()) {
      const p = await this.parts(other);
      blobsInUse.add(other.target.digest);
      blobsInUse.add(p.manifest.config.digest);
      for (const l of p.manifest.layers) blobsInUse.add(l.digest);
      for (const c of chainIds(p.config.rootfs.diff_ids)) chainsInUse.add(c);
    }
    for (const d of [record.target.digest, parts.manifest.config.digest, ...parts.manifest.layers.map((l) => l.digest)]) {
      if (blobsInUse.has(d) || !(await this.content.has(d))) continue;
      stats.bytes += (await this.content.info(d)).size;
      await this.content.delete(d);
    }
    this.partsCache.delete(record.target.digest);
    const removed: Digest[] = [];
    for (const chain of chainIds(parts.config.rootfs.diff_ids).reverse()) {
      if (chainsInUse.has(chain) || usage.layerInUse(chain)) break; // its parents are in use too
      const layer = await this.layers.get(chain);
      if (!layer) continue;
      await this.layers.remove(chain);
      stats.bytes += layer.size;
      removed.push(chain);
    }
    return removed;
  }
}

/** `repo` (may hold a tag) plus an optional `tag` → a name:tag reference; refuses digests. */
export function tagReference(repo: string, tag?: string): Reference {
  const ref = parseNormalizedNamed(repo);
  if (ref.digest !== undefined) throw invalidArgument('refusing to create a tag with a digest reference');
  if (tag !== undefined && tag !== '') {
    if (!isValidTag(tag)) throw invalidArgument('invalid tag format');
    return { domain: ref.domain, path: ref.path, tag };
  }
  return withDefaultTag(ref);
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

function safeParseAny(s: string): ReturnType<typeof parseAnyReference> | undefined {
  try {
    return parseAnyReference(s);
  } catch {
    return undefined;
  }
}

function cleanPath(p: string): string {
  return p.split('/').filter((x) => x !== '' && x !== '.').join('/');
}

function layerMediaType(c: Compression): string {
  switch (c) {
    case 'gzip':
      return MediaTypes.ociLayerGzip;
    case 'zstd':
      return MediaTypes.ociLayerZstd;
    default:
      return MediaTypes.ociLayer;
  }
}

function detectMediaCompression(mediaType: string): Compression | 'unknown' {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType === MediaTypes.ociLayer || mediaType === MediaTypes.dockerLayer) return 'none';
  return 'unknown';
}

/** label=key or label=key=value (all must match); label!=... is not in Docker's image filters. */
function matchLabels(filters: string[], labels: Record<string, string>): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    if (eq === -1) return f in labels;
    return labels[f.slice(0, eq)] === f.slice(eq + 1);
  });
}

/** `until`: unix seconds, RFC 3339, or a Go duration ("10m", "24h") before now. */
function parseUntil(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.floor(Number(value));
  const duration = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(value);
  if (duration) {
    const factor = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[duration[2] as 'ns' | 'us' | 'ms' | 's' | 'm' | 'h'];
    return Math.floor(Date.now() / 1000 - Number(duration[1]) * factor);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw invalidArgument(`invalid filter 'until=${value}'`);
  return Math.floor(ms / 1000);
}

