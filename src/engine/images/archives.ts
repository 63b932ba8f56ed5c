import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Digest } from '../../util/digest';
import { EngineError, invalidArgument } from '../../errors';
import {
  Descriptor,
  parseImageConfig,
  parseIndex,
  parseManifest,
  selectPlatformManifest,
  ANNOTATION_CONTAINERD_IMAGE_NAME,
  ANNOTATION_REF_NAME,
} from '../../images/models';
import { MediaTypes, isIndexType } from '../../images/media-types';
import { Reference, familiarString, fullName, isValidTag, parseAnyReference, parseNormalizedNamed, withDefaultTag } from '../../images/reference';
import { Compression, detectCompression } from '../../images/compression';
import { readArchive } from '../../archive/image/read-archive';
import { ArchiveImage, writeArchive } from '../../archive/image/write-archive';
import type { ImageCreation, NewImage } from './creation';
import { ensureLayerBlobs } from './layer-blobs';
import type { ImageResolver, ImageStores } from './resolver';
import type { LoadResult, ResolvedImage } from './types';

/** Archives: `docker save` and `docker load` (docker-archive and OCI layout). */
export class ImageArchives {
  constructor(
    private readonly stores: ImageStores,
    private readonly resolver: ImageResolver,
    private readonly creation: ImageCreation,
  ) {}

  /**
   * `docker save`: resolves every name first (NotFound before any byte is sent), then
   * streams an archive holding both an OCI layout and Docker's manifest.json. A bare
   * repository name saves all of its tags, as Docker does.
   */
  async save(names: readonly string[]): Promise<Readable> {
    const { metadata, content } = this.stores;
    const byId = new Map<Digest, { image: ResolvedImage; tags: Reference[] }>();
    const add = (image: ResolvedImage, tag?: Reference) => {
      const entry = byId.get(image.id) ?? { image, tags: [] };
      if (tag && !entry.tags.some((t) => familiarString(t) === familiarString(tag))) entry.tags.push(tag);
      byId.set(image.id, entry);
    };
    for (const name of names) {
      const any = safeParseAny(name);
      if (any?.kind === 'named' && any.ref.tag === undefined && any.ref.digest === undefined) {
        const tagged = metadata.allRefs().filter((r) => r.ref.tag !== undefined && r.ref.digest === undefined && fullName(r.ref) === fullName(any.ref));
        if (tagged.length > 0) {
          for (const r of tagged) add(await this.resolver.resolve(r.id), r.ref);
          continue;
        }
      }
      const image = await this.resolver.resolve(name);
      if (any?.kind === 'named' && metadata.lookupRef(any.ref) === image.id) {
        add(image, any.ref.digest === undefined ? withDefaultTag(any.ref) : undefined);
      } else add(image);
    }
    // Layers committed from containers get their blobs now, before the first byte is sent.
    for (const { image } of byId.values()) await ensureLayerBlobs(this.stores, image);
    const images: ArchiveImage[] = [...byId.values()].map(({ image, tags }) => ({ manifest: image.record.target, body: image.manifest, tags }));
    return writeArchive(images, content);
  }

  /**
   * `docker load`: reads a docker-archive (manifest.json; Docker 20.10's `<id>/layer.tar`
   * form or Docker 25's blobs/) or an OCI layout archive (index.json). All or nothing:
   * every blob and every layer diff ID is checked before any image or tag is registered,
   * and a failure deletes the blobs and layers this load added.
   */
  async load(tar: Readable, _opts: { quiet?: boolean } = {}): Promise<LoadResult> {
    return this.creation.leased('load', async (w) => {
      const archive = await readArchive(tar, w.content);
      for (const d of archive.newBlobs) w.newBlobs.add(d);
      const planned = await this.planLoad(archive.files);
      if (planned.length === 0) throw invalidArgument('invalid archive: no manifest.json or index.json with images found');
      for (const p of planned) await this.creation.unpackNew(p.image, w);
      const lines: string[] = [];
      const ids = await this.creation.register(
        planned.map((p) => p.image),
        w,
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
    });
  }

  /** Turns archive files into images to register (manifest.json first, else index.json). */
  private async planLoad(files: Map<string, { digest: Digest; size: number }>): Promise<Array<{ image: NewImage; tags: Reference[] }>> {
    const { content } = this.stores;
    const file = (p: string) => {
      const f = files.get(cleanPath(p));
      if (!f) throw invalidArgument(`invalid archive: ${p} is missing`);
      return f;
    };
    const readJson = async (p: string): Promise<unknown> => {
      try {
        return JSON.parse((await content.readBlob(file(p).digest)).toString());
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
        const manifest = parseManifest(await content.readBlob(manifestDesc.digest), manifestDesc.mediaType);
        ociManifests.set(manifest.config.digest, manifestDesc);
        const config = parseImageConfig(await content.readBlob(manifest.config.digest));
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
        const config = parseImageConfig(await content.readBlob(configFile.digest));
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
    const m = parseManifest(await this.stores.content.readBlob(desc.digest), desc.mediaType);
    return m.layers.length === layers.length && m.layers.every((l, i) => l.digest === layers[i].digest);
  }

  /** An index entry's image manifest for this platform (nested indexes followed). */
  private async pickManifest(d: Descriptor, depth = 0): Promise<Descriptor | undefined> {
    if (!isIndexType(d.mediaType)) return d;
    if (depth > 4) return undefined;
    const index = parseIndex(await this.stores.content.readBlob(d.digest), d.mediaType);
    const chosen = selectPlatformManifest(index);
    return chosen ? this.pickManifest(chosen, depth + 1) : undefined;
  }

  private async blobCompression(d: Digest): Promise<Compression> {
    const handle = await fs.open(this.stores.content.blobPath(d), 'r');
    try {
      const head = Buffer.alloc(6);
      const { bytesRead } = await handle.read(head, 0, 6, 0);
      return detectCompression(head.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }
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
