import { RegistryError } from '../../errcodes';
import { isDigest, type Digest } from '../../../util/digest';
import { DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../manifests';
import type { ManifestRecord } from '../storage/repositories';
import type { RouteContext } from './context';

/**
 * What a manifest GET/HEAD serves for the client's Accept header, as distribution (2.8, and
 * 3.0 alike) decides it; the stored bytes are never rewritten, only chosen:
 *  - an OCI manifest or index the client does not accept is MANIFEST_UNKNOWN (404), with
 *    distribution's messages, by tag and by digest alike;
 *  - a Docker manifest list asked for by tag by a client that does not accept lists is
 *    answered with its linux/amd64 entry (the first one), as an old client expects;
 *  - anything else is served as stored. Distribution 2.8 would rewrite a schema 2 manifest
 *    into a signed schema 1 for a client that does not accept schema 2; berth has no schema 1
 *    (docker dropped it) and serves schema 2, as distribution 3.0 does.
 */
export async function negotiateManifest(ctx: RouteContext, byTag: boolean, record: ManifestRecord): Promise<ManifestRecord> {
  const accepted = acceptedTypes(ctx.req.headers.accept);
  if (record.mediaType === OCI_MANIFEST && !accepted.has(OCI_MANIFEST)) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'OCI manifest found, but accept header does not support OCI manifests');
  }
  if (record.mediaType === OCI_INDEX && !accepted.has(OCI_INDEX)) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'OCI index found, but accept header does not support OCI indexes');
  }
  if (!byTag || record.mediaType !== DOCKER_MANIFEST_LIST || accepted.has(DOCKER_MANIFEST_LIST)) return record;
  const child = linuxAmd64Entry(await ctx.driver.getBlob(record.digest));
  const childRecord = child && (await ctx.store.manifest(ctx.name, child));
  if (!childRecord) throw new RegistryError('MANIFEST_UNKNOWN');
  return childRecord;
}

/** The media types Accept names: every header value split on commas, parameters (q=) dropped, as distribution reads it. */
export function acceptedTypes(accept: string | string[] | undefined): Set<string> {
  const values = accept === undefined ? [] : Array.isArray(accept) ? accept : [accept];
  const out = new Set<string>();
  for (const value of values) {
    for (const part of value.split(',')) {
      const type = part.split(';')[0].trim().toLowerCase();
      if (/^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/.test(type)) out.add(type);
    }
  }
  return out;
}

function linuxAmd64Entry(bytes: Buffer | undefined): Digest | undefined {
  if (!bytes) return undefined;
  let doc: { manifests?: Array<{ digest?: unknown; platform?: { os?: unknown; architecture?: unknown } }> };
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const entry = (Array.isArray(doc.manifests) ? doc.manifests : []).find((m) => m?.platform?.os === 'linux' && m.platform.architecture === 'amd64');
  return typeof entry?.digest === 'string' && isDigest(entry.digest) ? entry.digest : undefined;
}
