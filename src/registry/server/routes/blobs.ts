import { randomUUID } from 'node:crypto';
import { RegistryError } from '../../errcodes';
import { isNotFound } from '../../../errors';
import type { Digest } from '../../../util/digest';
import { drainBody, parseContentRange, parseRangeHeader, sendEmpty, uploadRange } from '../http';
import { waitWhileFenced } from '../gc-fence';
import { checkDigest, isValidName } from '../names';
import { DigestMismatchError, SizeMismatchError, UploadBusyError, UploadLimitError, UploadOffsetError, type BlobReader, type UploadStatus } from '../storage/driver';
import { emitEvent, type RouteContext } from './context';
import { sendBlob } from './send-blob';

/**
 * `/v2/<name>/blobs/<digest>` (GET with Range, HEAD, DELETE) and the upload routes under
 * `/v2/<name>/blobs/uploads/`: POST (start, monolithic `?digest=`, cross-repository
 * `?mount=&from=`), PATCH (a chunk with Content-Range, or a stream), GET (status), PUT
 * `?digest=` (finish, with an optional last chunk) and DELETE (cancel).
 */

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function blobUnknown(digest: string): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
}

async function isLinked(ctx: RouteContext, digest: Digest): Promise<boolean> {
  return (await ctx.store.hasBlob(ctx.name, digest)) || (await ctx.store.manifest(ctx.name, digest)) !== undefined;
}

/** The blob's size when this repository holds it (as a layer/config, or as a manifest). */
async function linkedBlob(ctx: RouteContext, digest: Digest): Promise<number> {
  const stat = (await isLinked(ctx, digest)) ? await ctx.driver.statBlob(digest) : undefined;
  if (!stat) throw blobUnknown(digest);
  return stat.size;
}

/** A GET's blob opened for reading (its size from the open file: no separate stat), or undefined when the driver has no random access. */
async function openLinkedBlob(ctx: RouteContext, digest: Digest): Promise<BlobReader | undefined> {
  if (ctx.req.method !== 'GET' || !ctx.driver.openBlob) return undefined;
  if (!(await isLinked(ctx, digest))) throw blobUnknown(digest);
  try {
    return await ctx.driver.openBlob(digest);
  } catch (err) {
    if (isNotFound(err)) throw blobUnknown(digest);
    throw err;
  }
}

export async function getBlob(ctx: RouteContext, param: string): Promise<void> {
  const digest = checkDigest(param);
  const reader = await openLinkedBlob(ctx, digest);
  try {
    await answerBlob(ctx, digest, reader);
  } catch (err) {
    await reader?.close();
    throw err;
  }
}

/** Answers a blob GET or HEAD; a reader given is handed to sendBlob (which closes it) or left to the caller on a throw before. */
async function answerBlob(ctx: RouteContext, digest: Digest, reader: BlobReader | undefined): Promise<void> {
  const size = reader ? reader.size : await linkedBlob(ctx, digest);
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
  };
  if (ctx.req.method === 'HEAD') {
    ctx.res.writeHead(200, { ...headers, 'Content-Length': String(size) });
    ctx.res.end();
    return;
  }
  const range = parseRangeHeader(ctx.req.headers.range, size);
  if (range) {
    const length = range.end - range.start + 1;
    ctx.res.writeHead(206, { ...headers, 'Content-Length': String(length), 'Content-Range': `bytes ${range.start}-${range.end}/${size}` });
    await sendBlob(ctx.driver, digest, ctx.res, { offset: range.start, length }, reader);
    return;
  }
  ctx.res.writeHead(200, { ...headers, 'Content-Length': String(size) });
  if (size === 0) {
    await reader?.close();
    ctx.res.end();
    return;
  }
  await sendBlob(ctx.driver, digest, ctx.res, { offset: 0, length: size }, reader);
}

/** Removes the blob from this repository (its bytes stay until garbage collection). */
export async function deleteBlob(ctx: RouteContext, param: string): Promise<void> {
  const digest = checkDigest(param);
  if (!(await ctx.store.hasBlob(ctx.name, digest))) throw blobUnknown(digest);
  const stat = await ctx.driver.statBlob(digest);
  await ctx.store.unlinkBlob(ctx.name, digest);
  sendEmpty(ctx.res, 202, { 'Docker-Content-Digest': digest });
  emitEvent(ctx, { action: 'delete', target: 'blob', repository: ctx.name, digest, size: stat?.size });
}

function uploadHeaders(ctx: RouteContext, status: Pick<UploadStatus, 'id' | 'offset'>): Record<string, string> {
  return {
    Location: `/v2/${ctx.name}/blobs/uploads/${status.id}`,
    Range: uploadRange(status.offset),
    'Docker-Upload-UUID': status.id,
  };
}

function uploadUnknown(uuid: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid } });
}

/** Checks the upload was started in this repository (its marker); else BLOB_UPLOAD_UNKNOWN. */
async function checkUpload(ctx: RouteContext, uuid: string): Promise<void> {
  if (!UUID_PATTERN.test(uuid) || !(await ctx.store.upload(ctx.name, uuid))) throw uploadUnknown(uuid);
}

/**
 * A driver call on an upload whose marker was checked: NotFound from the driver (its data is
 * gone: cancelled, committed, or never there) is BLOB_UPLOAD_UNKNOWN, and the marker goes.
 */
async function onUpload<T>(ctx: RouteContext, uuid: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isNotFound(err)) {
      await ctx.store.removeUpload(ctx.name, uuid);
      throw uploadUnknown(uuid);
    }
    throw err;
  }
}

/** The upload, when it was started in this repository; else BLOB_UPLOAD_UNKNOWN. */
async function uploadOf(ctx: RouteContext, uuid: string): Promise<UploadStatus> {
  await checkUpload(ctx, uuid);
  return onUpload(ctx, uuid, () => ctx.driver.uploadStatus(uuid));
}

/** Whether the request carries a body to append (an upload PUT may or may not). */
function hasBody(ctx: RouteContext): boolean {
  const length = ctx.req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return ctx.req.headers['transfer-encoding'] !== undefined;
}

/** Maps the driver's upload errors to the spec's codes. */
function uploadError(ctx: RouteContext, err: unknown, uuid?: string): unknown {
  if (err instanceof UploadOffsetError) {
    return new RegistryError('RANGE_INVALID', `chunk starts at ${err.expected}, but the upload has ${err.actual} bytes`, {
      headers: uuid ? uploadHeaders(ctx, { id: uuid, offset: err.actual }) : {},
    });
  }
  if (err instanceof UploadBusyError) return new RegistryError('BLOB_UPLOAD_INVALID', err.message);
  if (err instanceof UploadLimitError) return new RegistryError('SIZE_INVALID', `chunk is longer than its Content-Range: ${err.message}`);
  if (err instanceof DigestMismatchError) {
    return new RegistryError('DIGEST_INVALID', `provided digest ${err.expected} did not match uploaded content${err.actual ? ` (${err.actual})` : ''}`, { detail: { expected: err.expected, actual: err.actual } });
  }
  if (err instanceof SizeMismatchError) return new RegistryError('SIZE_INVALID', err.message, { detail: { expected: err.expected, actual: err.actual } });
  return err;
}

/**
 * Appends the request body to upload `uuid`, honouring a Content-Range (the chunk must start
 * where the upload ends). The driver's append reads the upload's state itself: no status is
 * read before it, only on a refusal that reports it.
 */
async function appendBody(ctx: RouteContext, uuid: string): Promise<UploadStatus> {
  const range = parseContentRange(ctx.req.headers['content-range'] as string | undefined);
  const declared = ctx.req.headers['content-length'] !== undefined ? Number(ctx.req.headers['content-length']) : undefined;
  if (range && declared !== undefined && declared !== range.end - range.start + 1) {
    const status = await ctx.driver.uploadStatus(uuid);
    throw new RegistryError('RANGE_INVALID', `Content-Range ${range.start}-${range.end} does not match Content-Length ${declared}`, { headers: uploadHeaders(ctx, status) });
  }
  try {
    return await ctx.driver.appendUpload(uuid, ctx.req, { expectedOffset: range?.start, limit: range ? range.end - range.start + 1 : undefined, sourceOwned: true });
  } catch (err) {
    throw uploadError(ctx, err, uuid);
  }
}

/** Verifies and commits the upload, links the blob into the repository, answers 201. */
async function completeUpload(ctx: RouteContext, uuid: string, digest: Digest): Promise<void> {
  try {
    await ctx.driver.commitUpload(uuid, digest);
  } catch (err) {
    // The driver removed the upload on a mismatch: nothing of it is stored.
    if (err instanceof DigestMismatchError || err instanceof SizeMismatchError) await ctx.store.removeUpload(ctx.name, uuid);
    throw uploadError(ctx, err);
  }
  // Content that was already stored keeps its old blob, which a gc sweeping now may remove:
  // link only outside a sweep, and only what is still there (gc-fence.ts).
  await waitWhileFenced(ctx.driver);
  if (!(await ctx.driver.statBlob(digest))) {
    await ctx.store.removeUpload(ctx.name, uuid);
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'the blob was removed by garbage collection while the upload completed; upload it again', { detail: { digest } });
  }
  // The upload is gone from the driver (committed): its marker is advisory, dropped alongside.
  await Promise.all([ctx.store.linkBlob(ctx.name, digest), ctx.store.removeUpload(ctx.name, uuid)]);
  sendEmpty(ctx.res, 201, { Location: `/v2/${ctx.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

export async function startUpload(ctx: RouteContext): Promise<void> {
  const mount = ctx.query.get('mount');
  if (mount !== null && (await tryMount(ctx, checkDigest(mount, 'mount digest'), ctx.query.get('from')))) return;
  const digestParam = ctx.query.get('digest');
  const digest = digestParam !== null ? checkDigest(digestParam) : undefined;
  const uuid = randomUUID();
  // The marker and the upload are independent writes: made at once, both there before the answer.
  const [, status] = await Promise.all([ctx.store.addUpload(ctx.name, uuid, { startedAt: Date.now() }), ctx.driver.createUpload(uuid)]);
  if (digest) {
    // Monolithic upload: the whole blob in the POST body. Its upload has no name the client
    // knows, so a failure drops it.
    try {
      if (hasBody(ctx)) await appendBody(ctx, uuid);
      await completeUpload(ctx, uuid, digest);
    } catch (err) {
      await ctx.driver.cancelUpload(uuid).catch(() => undefined);
      await ctx.store.removeUpload(ctx.name, uuid);
      throw err;
    }
    return;
  }
  await drainBody(ctx.req);
  sendEmpty(ctx.res, 202, uploadHeaders(ctx, status));
}

/**
 * Cross-repository mount: links a blob of `from` into this repository when the client may pull
 * from `from` and it holds the blob. Otherwise false: the caller starts a normal upload, as
 * distribution does (the client then uploads the blob).
 */
async function tryMount(ctx: RouteContext, digest: Digest, from: string | null): Promise<boolean> {
  if (from === null || !isValidName(from)) return false;
  if (!(await ctx.authz.permits(ctx.auth, { type: 'repository', name: from, actions: ['pull'] }))) return false;
  await waitWhileFenced(ctx.driver);
  if (!(await ctx.store.hasBlob(from, digest)) || !(await ctx.driver.statBlob(digest))) return false;
  await drainBody(ctx.req);
  await ctx.store.linkBlob(ctx.name, digest);
  sendEmpty(ctx.res, 201, { Location: `/v2/${ctx.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
  return true;
}

export async function patchUpload(ctx: RouteContext, uuid: string): Promise<void> {
  await checkUpload(ctx, uuid);
  const status = await onUpload(ctx, uuid, () => appendBody(ctx, uuid));
  sendEmpty(ctx.res, 202, uploadHeaders(ctx, status));
}

export async function uploadStatus(ctx: RouteContext, uuid: string): Promise<void> {
  sendEmpty(ctx.res, 204, uploadHeaders(ctx, await uploadOf(ctx, uuid)));
}

export async function putUpload(ctx: RouteContext, uuid: string): Promise<void> {
  await checkUpload(ctx, uuid);
  const digest = checkDigest(ctx.query.get('digest'));
  await onUpload(ctx, uuid, async () => {
    if (hasBody(ctx)) await appendBody(ctx, uuid);
    await completeUpload(ctx, uuid, digest);
  });
}

export async function cancelUpload(ctx: RouteContext, uuid: string): Promise<void> {
  await uploadOf(ctx, uuid);
  try {
    await ctx.driver.cancelUpload(uuid);
  } catch (err) {
    if (!isNotFound(err)) throw uploadError(ctx, err);
  }
  await ctx.store.removeUpload(ctx.name, uuid);
  sendEmpty(ctx.res, 204);
}
