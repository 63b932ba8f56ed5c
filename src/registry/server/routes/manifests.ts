import { RegistryError } from '../../errcodes';
import { digestOf, type Digest } from '../../../util/digest';
import { readBody, sendEmpty } from '../http';
import { MAX_MANIFEST_SIZE, parseManifest } from '../manifests';
import { waitWhileFenced } from '../gc-fence';
import { checkDigest, checkTag, isDigestLike } from '../names';
import { emitEvent, type RouteContext } from './context';
import { negotiateManifest } from './manifest-negotiation';

/** `/v2/<name>/manifests/<reference>`: GET, HEAD, PUT, DELETE by tag or digest. */

function manifestUnknown(name: string, reference: string): RegistryError {
  const detail = isDigestLike(reference) ? { Digest: reference } : { Tag: reference };
  return new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { ...detail, Name: name } });
}

/** The digest a reference names in this repository, or MANIFEST_UNKNOWN. */
async function resolveReference(ctx: RouteContext, reference: string): Promise<Digest> {
  if (isDigestLike(reference)) return checkDigest(reference);
  checkTag(reference);
  const digest = await ctx.store.tag(ctx.name, reference);
  if (!digest) throw manifestUnknown(ctx.name, reference);
  return digest;
}

export async function getManifest(ctx: RouteContext, reference: string): Promise<void> {
  const stored = await ctx.store.manifest(ctx.name, await resolveReference(ctx, reference));
  if (!stored) throw manifestUnknown(ctx.name, reference);
  const record = await negotiateManifest(ctx, !isDigestLike(reference), stored);
  const digest = record.digest;
  const headers = {
    'Content-Type': record.mediaType,
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Content-Length': String(record.size),
  };
  if (ctx.req.method === 'HEAD') {
    ctx.res.writeHead(200, headers);
    ctx.res.end();
    return;
  }
  const body = await ctx.driver.getBlob(digest);
  if (!body) throw manifestUnknown(ctx.name, reference);
  ctx.res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
  ctx.res.end(body);
}

export async function putManifest(ctx: RouteContext, reference: string): Promise<void> {
  const byDigest = isDigestLike(reference);
  const wanted = byDigest ? checkDigest(reference) : undefined;
  const tag = byDigest ? undefined : checkTag(reference);
  const body = await readBody(ctx.req, MAX_MANIFEST_SIZE, () => new RegistryError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_SIZE} bytes`, { status: 413 }));
  const digest = digestOf(body);
  if (wanted && wanted !== digest) {
    throw new RegistryError('DIGEST_INVALID', `manifest digest ${digest} does not match the reference ${wanted}`, { detail: { expected: wanted, actual: digest } });
  }
  const manifest = parseManifest(body, ctx.req.headers['content-type']);
  // Not while gc sweeps: from here to the stored manifest is a few small writes (gc-fence.ts).
  await waitWhileFenced(ctx.driver);
  // Everything it references must be in this repository: a manifest never points at nothing.
  for (const blob of manifest.blobs) {
    if (!(await ctx.store.hasBlob(ctx.name, blob.digest))) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `blob ${blob.digest} (${blob.mediaType}) is unknown to repository ${ctx.name}`, { detail: { digest: blob.digest } });
    }
  }
  for (const child of manifest.manifests) {
    if (!(await ctx.store.manifest(ctx.name, child.digest))) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest ${child.digest} is unknown to repository ${ctx.name}`, { detail: { digest: child.digest } });
    }
  }
  await ctx.driver.putBlob(digest, body);
  await ctx.store.putManifest(ctx.name, { digest, mediaType: manifest.mediaType, size: body.length, subject: manifest.subject?.digest, pushedAt: Date.now() });
  if (manifest.subject) {
    await ctx.store.addReferrer(ctx.name, manifest.subject.digest, {
      mediaType: manifest.mediaType,
      digest,
      size: body.length,
      ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
      ...(manifest.annotations !== undefined ? { annotations: manifest.annotations } : {}),
    });
  }
  if (tag) await ctx.store.setTag(ctx.name, tag, digest);
  const headers: Record<string, string> = { Location: `/v2/${ctx.name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
  if (manifest.subject) headers['OCI-Subject'] = manifest.subject.digest;
  sendEmpty(ctx.res, 201, headers);
  emitEvent(ctx, { action: 'push', target: 'manifest', repository: ctx.name, tag, digest, size: body.length, mediaType: manifest.mediaType });
}

/**
 * DELETE by digest removes the manifest from the repository with every tag pointing at it and
 * its referrers entry (its bytes stay until garbage collection); DELETE by tag removes the tag only.
 */
export async function deleteManifest(ctx: RouteContext, reference: string): Promise<void> {
  if (!isDigestLike(reference)) {
    const tag = checkTag(reference);
    const digest = await ctx.store.tag(ctx.name, tag);
    if (!digest) throw manifestUnknown(ctx.name, reference);
    await ctx.store.deleteTag(ctx.name, tag);
    sendEmpty(ctx.res, 202);
    emitEvent(ctx, { action: 'delete', target: 'tag', repository: ctx.name, tag, digest });
    return;
  }
  const digest = checkDigest(reference);
  const record = await ctx.store.manifest(ctx.name, digest);
  if (!record) throw manifestUnknown(ctx.name, reference);
  for (const tag of await ctx.store.tagsOf(ctx.name, digest)) await ctx.store.deleteTag(ctx.name, tag);
  if (record.subject) await ctx.store.removeReferrer(ctx.name, record.subject, digest);
  await ctx.store.deleteManifest(ctx.name, digest);
  sendEmpty(ctx.res, 202);
  emitEvent(ctx, { action: 'delete', target: 'manifest', repository: ctx.name, digest, size: record.size, mediaType: record.mediaType });
}
