import { RegistryError } from '../errcodes';
import type { Digest } from '../../util/digest';
import type { Descriptor } from '../../images/models';
import { checkDigest } from './names';

/**
 * Reading a pushed manifest: its media type (from Content-Type, checked against the document's
 * own `mediaType`), the descriptors it references (config and layers, or an index's
 * manifests), and its OCI 1.1 `subject` and artifact type. Only what the registry must check:
 * that the document is one of the four manifest kinds and that its references can be verified.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
/** Layers a registry need not hold: their `urls` point elsewhere (foreign / non-distributable). */
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** The largest manifest accepted (the OCI spec asks registries to take at least 4 MiB). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

export type { Descriptor };

export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** Blobs the repository must hold (config and layers of an image manifest; foreign layers excluded). */
  blobs: Descriptor[];
  /** Manifests the repository must hold (an index's children). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** What the referrers API lists as the artifact type: `artifactType`, else the config's media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message);
}

function readDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where} is not a descriptor`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`${where} has no mediaType`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where} has an invalid size`);
  let digest: Digest;
  try {
    digest = checkDigest(typeof d.digest === 'string' ? d.digest : undefined, `${where} digest`);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  const out: Descriptor = { mediaType: d.mediaType, digest, size: d.size };
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  if (isStringMap(d.annotations)) out.annotations = d.annotations;
  if (typeof d.artifactType === 'string') out.artifactType = d.artifactType;
  return out;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Content-Type without parameters, lowercased; undefined for generic JSON types. */
function declaredType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();
  if (!type || type === 'application/json' || type === 'application/octet-stream' || type === 'text/plain') return undefined;
  return type;
}

/**
 * Parses and checks a pushed manifest. Throws MANIFEST_INVALID for anything that is not a
 * schema-2 image manifest or index with well-formed descriptors.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw invalid(`manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('manifest is not a JSON object');
  const m = doc as Record<string, unknown>;
  const header = declaredType(contentType);
  const own = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  if (header && DOCKER_SCHEMA1.includes(header)) throw invalid('Docker schema 1 manifests are not supported: push with schema 2 or OCI');
  if (m.schemaVersion === 1) throw invalid('Docker schema 1 manifests are not supported: push with schema 2 or OCI');
  if (m.schemaVersion !== 2) throw invalid(`unsupported manifest schemaVersion ${JSON.stringify(m.schemaVersion)}`);
  if (own !== undefined && header !== undefined && own !== header) {
    throw invalid(`manifest mediaType ${JSON.stringify(own)} does not match the Content-Type ${JSON.stringify(header)}`);
  }
  // CVE-2021-41190: a document that reads as both an image and an index is ambiguous.
  if (m.manifests !== undefined && (m.layers !== undefined || m.config !== undefined)) {
    throw invalid('manifest has both "manifests" and "layers"/"config": ambiguous document refused');
  }
  const mediaType = header ?? own ?? (m.manifests !== undefined ? OCI_INDEX : OCI_MANIFEST);
  const annotations = isStringMap(m.annotations) ? m.annotations : undefined;
  const subject = m.subject === undefined ? undefined : readDescriptor(m.subject, 'subject');

  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) {
    if (m.manifests !== undefined) throw invalid(`a ${mediaType} has no "manifests"`);
    const config = readDescriptor(m.config, 'config');
    if (!Array.isArray(m.layers)) throw invalid('manifest has no "layers" list');
    const layers = m.layers.map((l, i) => readDescriptor(l, `layers[${i}]`));
    if (mediaType === DOCKER_MANIFEST && subject) throw invalid('a Docker schema 2 manifest cannot have a subject');
    const blobs = [config, ...layers.filter((l) => !(FOREIGN_LAYER_TYPES.has(l.mediaType) && (l.urls?.length ?? 0) > 0))];
    const artifactType = typeof m.artifactType === 'string' ? m.artifactType : config.mediaType;
    return { mediaType, kind: 'image', blobs, manifests: [], subject, artifactType, annotations };
  }
  if (mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST) {
    if (m.layers !== undefined || m.config !== undefined) throw invalid(`a ${mediaType} has no "layers" or "config"`);
    if (!Array.isArray(m.manifests)) throw invalid('index has no "manifests" list');
    const manifests = m.manifests.map((d, i) => readDescriptor(d, `manifests[${i}]`));
    const artifactType = typeof m.artifactType === 'string' ? m.artifactType : undefined;
    return { mediaType, kind: 'index', blobs: [], manifests, subject, artifactType, annotations };
  }
  throw invalid(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
}
