import type { Readable } from 'node:stream';
import { messageOf } from '../../errors';
import { MediaTypes, isIndexType, isManifestType } from '../../images/media-types';
import { parseIndex, parseManifest } from '../../images/models';
import { Digester, type Digest } from '../../util/digest';
import { badAnswer, RegistryError } from './errors';
import type { FetchedManifest } from './types';

/** Manifests and indexes above this are refused (containerd and distribution use 4 MiB). */
export const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;

/** The manifest and index media types berth asks for, in the Accept header. */
export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.dockerManifestList, MediaTypes.ociManifest, MediaTypes.dockerManifest];

/**
 * Reads a stream whole while digesting it, refusing more than `limit` bytes (and, when the
 * size is known, more than that): the digest is ready when the last byte arrives.
 */
export async function readDigested(registry: string, stream: Readable, limit: number, what: string): Promise<{ bytes: Buffer; digest: Digest }> {
  const digester = new Digester();
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (digester.size + buf.length > limit) {
        stream.destroy();
        throw badAnswer(registry, `${what} is larger than ${limit} bytes`);
      }
      digester.update(buf);
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError('Unavailable', `reading ${what} from ${registry}: ${messageOf(err)}`, { registry, cause: err });
  }
  return { bytes: Buffer.concat(chunks), digest: digester.digest() };
}

function mediaTypeOfHeader(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t === '' ? undefined : t;
}

/**
 * Checks a fetched manifest document and parses it:
 * - its digest must be `expected` (a by-digest reference) and agree with the registry's
 *   Docker-Content-Digest header;
 * - a document with both `manifests` and `layers` (or `config`) is ambiguous and refused
 *   (CVE-2021-41190), as is one whose fields contradict its media type;
 * - the document's own mediaType must agree with the Content-Type the registry sent;
 * - schema 1 and unknown media types are refused by name.
 */
export function verifyManifest(
  registry: string,
  fetched: { bytes: Buffer; digest: Digest },
  headers: { contentType?: string; dockerContentDigest?: string },
  expected?: Digest,
): FetchedManifest {
  const { bytes, digest } = fetched;
  if (expected !== undefined && digest !== expected) throw badAnswer(registry, `manifest verification failed for digest ${expected}: the content has digest ${digest}`);
  const headerDigest = headers.dockerContentDigest?.trim();
  if (headerDigest !== undefined && headerDigest !== '' && headerDigest !== digest) {
    throw badAnswer(registry, `manifest digest mismatch: Docker-Content-Digest says ${headerDigest}, the content has digest ${digest}`);
  }
  let doc: Record<string, unknown>;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    doc = parsed as Record<string, unknown>;
  } catch (err) {
    throw badAnswer(registry, `invalid manifest: ${messageOf(err)}`, err);
  }
  const hasManifests = doc.manifests !== undefined;
  const hasLayers = doc.layers !== undefined || doc.config !== undefined;
  if (hasManifests && hasLayers) throw badAnswer(registry, 'ambiguous manifest: it has both "manifests" and "layers" (CVE-2021-41190)');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = mediaTypeOfHeader(headers.contentType);
  const headerIsManifestType = header !== undefined && (isManifestType(header) || isIndexType(header) || header.startsWith('application/vnd.docker.distribution.manifest.v1'));
  if (declared !== undefined && headerIsManifestType && declared !== header) {
    throw badAnswer(registry, `manifest media type mismatch: Content-Type is ${header} but the document says ${declared}`);
  }
  if (doc.schemaVersion === 1 || (declared ?? header ?? '').startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw badAnswer(registry, 'unsupported manifest format: Docker image manifest version 2, schema 1 is not supported; push the image again with a current client');
  }
  const mediaType = declared ?? (headerIsManifestType ? header : undefined) ?? (hasManifests ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  const descriptor = { mediaType, digest, size: bytes.length };
  try {
    if (isIndexType(mediaType)) {
      if (hasLayers) throw new Error(`an index (${mediaType}) with "config" or "layers"`);
      return { descriptor, bytes, index: parseIndex(bytes, mediaType) };
    }
    if (isManifestType(mediaType)) {
      if (hasManifests) throw new Error(`a manifest (${mediaType}) with "manifests"`);
      return { descriptor, bytes, manifest: parseManifest(bytes, mediaType) };
    }
  } catch (err) {
    throw badAnswer(registry, `invalid manifest: ${messageOf(err)}`, err);
  }
  throw badAnswer(registry, `unsupported manifest media type ${mediaType}`);
}
