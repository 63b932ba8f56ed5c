import type { ContentStore } from '../../content/types';
import type { Digest } from '../../util/digest';
import { EngineError, invalidArgument, messageOf } from '../../errors';
import {
  Descriptor,
  ImageConfig,
  parseImageConfig,
  parseIndex,
  parseManifest,
  selectPlatformManifest,
  ANNOTATION_CONTAINERD_IMAGE_NAME,
  ANNOTATION_REF_NAME,
} from '../../images/models';
import { MediaTypes, isIndexType } from '../../images/media-types';
import { Compression, detectCompression } from '../../images/compression';
import { Reference, familiarString, isValidTag, parseNormalizedNamed, withDefaultTag } from '../../images/reference';
import type { ArchiveFiles } from './read-archive';
import { planLegacyLoad } from './legacy-layout';

/**
 * What an image archive holds, as images to register: every blob is in the content store
 * already (read-archive.ts put the archive's files there). A config is always named by
 * the blob of its bytes as they came (`configBlob`): its digest is the image ID, so it is
 * never serialised again.
 */
export interface PlannedImage {
  config: ImageConfig;
  /** The config's bytes as stored; its digest is the image ID. */
  configBlob: { digest: Digest; size: number };
  layers: Descriptor[];
  /** A manifest from the archive to keep (else the loader writes one). */
  manifest?: Descriptor;
  /** The image below this one, when the archive says (legacy layers). */
  parent?: Digest;
  /** name:tag references to set. */
  tags: Reference[];
  /** name@digest references the archive carries for this image's manifest (RepoDigests). */
  digestRefs: Reference[];
  /** Whether an untagged image is reported ("Loaded image ID: ..."); a legacy archive's intermediate layers are not. */
  report: boolean;
}

/** Where planning reads blobs and writes the configs it must make (legacy archives). */
export interface PlanStore {
  content: ContentStore;
  /** Blobs that were not in the store before (deleted again if the load fails). */
  newBlobs: Set<Digest>;
}

/**
 * Turns archive files into images: Docker's manifest.json first (keeping the manifests of
 * an OCI layout in the same archive when they describe the same image), else an OCI
 * index.json, else a pre-1.10 `repositories` file with per-layer directories. Bad input
 * is an InvalidArgument naming the file and what is wrong with it.
 */
export async function planLoad(files: ArchiveFiles, store: PlanStore): Promise<PlannedImage[]> {
  const { content } = store;
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
      throw invalidArgument(`invalid archive: ${p}: ${messageOf(err)}`);
    }
  };
  const readConfig = async (p: string, digest: Digest): Promise<ImageConfig> => {
    try {
      return parseImageConfig(await content.readBlob(digest));
    } catch (err) {
      throw invalidArgument(`invalid archive: ${p}: ${messageOf(err)}`, err);
    }
  };

  // Manifests from an OCI layout, by config digest: kept when manifest.json describes the same image.
  const oci = new Map<Digest, { manifest: Descriptor; digestRefs: Reference[] }>();
  const ociPlanned: PlannedImage[] = [];
  if (files.has('index.json')) {
    const index = parseIndex(JSON.stringify(await readJson('index.json')), MediaTypes.ociIndex);
    for (const d of index.manifests) {
      const manifestDesc = await pickManifest(content, d);
      if (!manifestDesc) continue;
      const manifest = parseManifest(await content.readBlob(manifestDesc.digest), manifestDesc.mediaType);
      const config = await readConfig(`blobs/sha256/${manifest.config.digest.slice(7)}`, manifest.config.digest);
      const { tags, digestRefs } = indexEntryRefs(d);
      const known = oci.get(manifest.config.digest);
      if (known?.manifest.digest === manifestDesc.digest) known.digestRefs.push(...digestRefs);
      else if (!known) oci.set(manifest.config.digest, { manifest: manifestDesc, digestRefs: [...digestRefs] });
      const existing = ociPlanned.find((p) => p.manifest?.digest === manifestDesc.digest);
      if (existing) {
        existing.tags.push(...tags);
        existing.digestRefs.push(...digestRefs);
      } else {
        ociPlanned.push({
          config,
          configBlob: { digest: manifest.config.digest, size: manifest.config.size },
          layers: manifest.layers,
          manifest: manifestDesc,
          tags,
          digestRefs,
          report: true,
        });
      }
    }
  }
  if (files.has('manifest.json')) {
    const entries = await readJson('manifest.json');
    if (!Array.isArray(entries)) throw invalidArgument('invalid archive: manifest.json is not a list');
    const planned: PlannedImage[] = [];
    for (const entry of entries as Array<{ Config?: unknown; RepoTags?: unknown; Layers?: unknown }>) {
      if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw invalidArgument('invalid archive: bad manifest.json entry');
      const configFile = file(entry.Config);
      const config = await readConfig(entry.Config, configFile.digest);
      const layers: Descriptor[] = [];
      for (const l of entry.Layers as unknown[]) {
        if (typeof l !== 'string') throw invalidArgument('invalid archive: bad layer path in manifest.json');
        const f = file(l);
        layers.push({ mediaType: layerMediaType(await blobCompression(content, f.digest)), digest: f.digest, size: f.size });
      }
      const tags = Array.isArray(entry.RepoTags)
        ? (entry.RepoTags as unknown[]).filter((t): t is string => typeof t === 'string').map((t) => withDefaultTag(parseNormalizedNamed(t)))
        : [];
      for (const t of tags) {
        if (t.digest !== undefined) throw invalidArgument(`invalid archive: tag ${familiarString(t)} has a digest`);
      }
      const known = oci.get(configFile.digest);
      const sameLayers = known && (await manifestLayersMatch(content, known.manifest, layers));
      planned.push({
        config,
        configBlob: configFile,
        layers,
        ...(sameLayers ? { manifest: known.manifest } : {}),
        tags,
        digestRefs: sameLayers ? known.digestRefs : [],
        report: true,
      });
    }
    return planned;
  }
  if (files.has('index.json')) return ociPlanned;
  if (files.has('repositories')) return planLegacyLoad(files, store);
  throw invalidArgument('invalid archive: no manifest.json, index.json or repositories file found');
}

/**
 * The references an index entry's annotations give: a name with a tag (or the bare tag of
 * `org.opencontainers.image.ref.name`, which names no repository and is skipped), or a
 * name with a digest, kept only when it is the digest of this very entry.
 */
function indexEntryRefs(d: Descriptor): { tags: Reference[]; digestRefs: Reference[] } {
  const tags: Reference[] = [];
  const digestRefs: Reference[] = [];
  const name = d.annotations?.[ANNOTATION_CONTAINERD_IMAGE_NAME] ?? d.annotations?.[ANNOTATION_REF_NAME];
  if (name === undefined || isValidTag(name)) return { tags, digestRefs };
  const ref = parseNormalizedNamed(name);
  if (ref.digest === undefined) tags.push(withDefaultTag(ref));
  else if (ref.digest === d.digest) digestRefs.push({ domain: ref.domain, path: ref.path, digest: ref.digest });
  return { tags, digestRefs };
}

async function manifestLayersMatch(content: ContentStore, desc: Descriptor, layers: Descriptor[]): Promise<boolean> {
  const m = parseManifest(await content.readBlob(desc.digest), desc.mediaType);
  return m.layers.length === layers.length && m.layers.every((l, i) => l.digest === layers[i].digest);
}

/** An index entry's image manifest for this platform (nested indexes followed). */
async function pickManifest(content: ContentStore, d: Descriptor, depth = 0): Promise<Descriptor | undefined> {
  if (!isIndexType(d.mediaType)) return d;
  if (depth > 4) return undefined;
  const index = parseIndex(await content.readBlob(d.digest), d.mediaType);
  const chosen = selectPlatformManifest(index);
  return chosen ? pickManifest(content, chosen, depth + 1) : undefined;
}

export async function blobCompression(content: ContentStore, d: Digest): Promise<Compression> {
  const { size } = await content.info(d);
  return detectCompression(await content.read(d, { offset: 0, length: Math.min(6, size) }));
}

export function layerMediaType(c: Compression): string {
  switch (c) {
    case 'gzip':
      return MediaTypes.ociLayerGzip;
    case 'zstd':
      return MediaTypes.ociLayerZstd;
    default:
      return MediaTypes.ociLayer;
  }
}

export function cleanPath(p: string): string {
  return p.split('/').filter((x) => x !== '' && x !== '.').join('/');
}
