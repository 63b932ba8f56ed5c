import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type _Object,
} from '@aws-sdk/client-s3';
import { notFound } from '../../../errors';
import { digestOf, type Digest } from '../../../util/digest';
import {
  checkMetadataKey,
  DigestMismatchError,
  SizeMismatchError,
  UploadBusyError,
  UploadLimitError,
  UploadOffsetError,
  type BlobRange,
  type BlobStat,
  type StorageDriver,
  type UploadStatus,
} from './driver';

/**
 * The storage driver on an S3-compatible object store, so a registry can outgrow one disk.
 * Objects under the configured prefix:
 *
 *   blobs/sha256/<hex>                 a committed blob (written whole, so visible only complete)
 *   uploads/<id>/started               an upload in flight (its start time)
 *   uploads/<id>/data/<offset>         its bytes, in pieces of at most PIECE_SIZE, named by offset
 *   metadata/<key>                     a metadata document; "folders" are key prefixes
 *
 * An append writes pieces as the body arrives (what arrived before a failure stays); a commit
 * reads the pieces in order through sha256 and, only when the digest (and size) match, writes
 * the blob: one copy for a single piece, else a multipart upload of the pieces' bytes (parts of
 * PIECE_SIZE, as S3 wants at least 5 MiB but the last). Two commits of the same content write
 * the same bytes to one key: both succeed. One append or commit at a time per upload, within
 * this process (a registry served by several processes on one bucket needs a lock of its own).
 */
export interface S3DriverOptions {
  /** e.g. http://127.0.0.1:9000; the AWS endpoint when absent. */
  endpoint?: string;
  region?: string;
  bucket: string;
  /** Key prefix inside the bucket ("" or "registry/"). */
  prefix?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (bucket in the path), as most S3-compatible servers need; default true with an endpoint. */
  forcePathStyle?: boolean;
  /** Create the bucket at init when it is missing (default true). */
  createBucket?: boolean;
}

const PIECE_SIZE = 8 * 1024 * 1024;
const OFFSET_WIDTH = 16;

export class S3Driver implements StorageDriver {
  readonly description: string;
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly busy = new Set<string>();

  constructor(private readonly options: S3DriverOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ? options.prefix.replace(/\/*$/, '/') : '';
    this.description = `s3 ${options.endpoint ?? 'aws'} bucket ${options.bucket}${this.prefix ? ` prefix ${this.prefix}` : ''}`;
    this.s3 = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      ...(options.accessKeyId && options.secretAccessKey ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
    });
  }

  async init(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isMissing(err) || this.options.createBucket === false) throw new Error(`S3 bucket ${this.bucket} at ${this.options.endpoint ?? 'aws'}: ${describe(err)}`, { cause: err });
      await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  close(): void {
    this.s3.destroy();
  }

  // --- blobs

  private blobKey(digest: Digest): string {
    return `${this.prefix}blobs/sha256/${digest.slice('sha256:'.length)}`;
  }

  async statBlob(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
      return { digest, size: head.ContentLength ?? 0, modifiedAt: head.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  readBlob(digest: Digest, range?: BlobRange): Readable {
    const key = this.blobKey(digest);
    const s3 = this.s3;
    const bucket = this.bucket;
    async function* body(): AsyncGenerator<Buffer> {
      let res;
      try {
        res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) }));
      } catch (err) {
        if (isMissing(err)) throw notFound(`blob ${digest} not found`, err);
        throw err;
      }
      for await (const chunk of res.Body as Readable) yield chunk as Buffer;
    }
    return Readable.from(body());
  }

  async getBlob(digest: Digest): Promise<Buffer | undefined> {
    return this.getObject(this.blobKey(digest));
  }

  async putBlob(digest: Digest, data: Uint8Array): Promise<BlobStat> {
    const actual = digestOf(data);
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest), Body: data }));
    return (await this.statBlob(digest)) ?? { digest, size: data.length, modifiedAt: Date.now() };
  }

  async deleteBlob(digest: Digest): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
  }

  async *listBlobs(): AsyncIterable<BlobStat> {
    const base = `${this.prefix}blobs/sha256/`;
    for await (const object of this.listObjects(base)) {
      const hex = object.Key!.slice(base.length);
      if (!/^[0-9a-f]{64}$/.test(hex)) continue;
      yield { digest: `sha256:${hex}`, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 };
    }
  }

  // --- uploads

  private uploadKey(id: string, ...rest: string[]): string {
    if (!/^[A-Za-z0-9._-]+$/.test(id) || id === '.' || id === '..') throw notFound(`upload ${id} not found`);
    return [`${this.prefix}uploads`, id, ...rest].join('/');
  }

  async createUpload(id: string): Promise<UploadStatus> {
    const now = Date.now();
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.uploadKey(id, 'started'), Body: String(now) }));
    return { id, offset: 0, startedAt: now, updatedAt: now };
  }

  /** The upload's pieces in offset order; NotFound when it does not exist. */
  private async pieces(id: string): Promise<{ startedAt: number; pieces: Array<{ key: string; offset: number; size: number; modifiedAt: number }> }> {
    const started = await this.getObject(this.uploadKey(id, 'started'));
    if (!started) throw notFound(`upload ${id} not found`);
    const base = this.uploadKey(id, 'data') + '/';
    const pieces = [];
    for await (const object of this.listObjects(base)) {
      pieces.push({ key: object.Key!, offset: Number(object.Key!.slice(base.length)), size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 });
    }
    pieces.sort((a, b) => a.offset - b.offset);
    return { startedAt: Number(started.toString()) || 0, pieces };
  }

  async uploadStatus(id: string): Promise<UploadStatus> {
    const { startedAt, pieces } = await this.pieces(id);
    const last = pieces[pieces.length - 1];
    return { id, offset: last ? last.offset + last.size : 0, startedAt, updatedAt: Math.max(startedAt, ...pieces.map((p) => p.modifiedAt)) };
  }

  private hold(id: string): () => void {
    if (this.busy.has(id)) throw new UploadBusyError(id);
    this.busy.add(id);
    return () => this.busy.delete(id);
  }

  async appendUpload(id: string, source: Readable, options: { expectedOffset?: number; limit?: number } = {}): Promise<UploadStatus> {
    const release = this.hold(id);
    try {
      let offset = (await this.uploadStatus(id)).offset;
      if (options.expectedOffset !== undefined && options.expectedOffset !== offset) {
        source.resume();
        throw new UploadOffsetError(options.expectedOffset, offset);
      }
      let pending: Buffer[] = [];
      let pendingSize = 0;
      let received = 0;
      const flush = async () => {
        if (pendingSize === 0) return;
        const body = Buffer.concat(pending, pendingSize);
        pending = [];
        pendingSize = 0;
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.uploadKey(id, 'data', String(offset).padStart(OFFSET_WIDTH, '0')), Body: body }));
        offset += body.length;
      };
      try {
        for await (const chunk of source) {
          const buffer = chunk as Buffer;
          received += buffer.length;
          if (options.limit !== undefined && received > options.limit) throw new UploadLimitError(options.limit);
          pending.push(buffer);
          pendingSize += buffer.length;
          if (pendingSize >= PIECE_SIZE) await flush();
        }
      } finally {
        // What arrived before a failure stays: the client resumes from there.
        await flush();
      }
      return await this.uploadStatus(id);
    } finally {
      release();
    }
  }

  async commitUpload(id: string, digest: Digest, size?: number): Promise<BlobStat> {
    const release = this.hold(id);
    try {
      const { pieces } = await this.pieces(id);
      const total = pieces.reduce((n, p) => n + p.size, 0);
      if (size !== undefined && size !== total) {
        await this.removeUpload(id);
        throw new SizeMismatchError(size, total);
      }
      const hash = createHash('sha256');
      for (const piece of pieces) for await (const chunk of await this.objectStream(piece.key)) hash.update(chunk as Buffer);
      const actual: Digest = `sha256:${hash.digest('hex')}`;
      if (actual !== digest) {
        await this.removeUpload(id);
        throw new DigestMismatchError(digest, actual);
      }
      const key = this.blobKey(digest);
      if (pieces.length === 0) {
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.alloc(0) }));
      } else if (pieces.length === 1) {
        await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: `${this.bucket}/${pieces[0]!.key}` }));
      } else {
        await this.assemble(key, pieces.map((p) => p.key));
      }
      await this.removeUpload(id);
      return (await this.statBlob(digest)) ?? { digest, size: total, modifiedAt: Date.now() };
    } finally {
      release();
    }
  }

  /** Writes the pieces' bytes, in order, to `key` by a multipart upload of PIECE_SIZE parts. */
  private async assemble(key: string, pieceKeys: string[]): Promise<void> {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    try {
      let buffered: Buffer[] = [];
      let bufferedSize = 0;
      const sendPart = async () => {
        const PartNumber = parts.length + 1;
        const { ETag } = await this.s3.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId, PartNumber, Body: Buffer.concat(buffered, bufferedSize) }));
        parts.push({ ETag: ETag!, PartNumber });
        buffered = [];
        bufferedSize = 0;
      };
      for (const pieceKey of pieceKeys) {
        for await (const chunk of await this.objectStream(pieceKey)) {
          buffered.push(chunk as Buffer);
          bufferedSize += (chunk as Buffer).length;
          if (bufferedSize >= PIECE_SIZE) await sendPart();
        }
      }
      if (bufferedSize > 0 || parts.length === 0) await sendPart();
      await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  private async removeUpload(id: string): Promise<void> {
    await this.deletePrefix(this.uploadKey(id) + '/');
  }

  async cancelUpload(id: string): Promise<void> {
    if (!(await this.getObject(this.uploadKey(id, 'started')))) throw notFound(`upload ${id} not found`);
    await this.removeUpload(id);
  }

  async listUploads(): Promise<UploadStatus[]> {
    const out: UploadStatus[] = [];
    for (const id of await this.listNames(`${this.prefix}uploads/`)) {
      try {
        out.push(await this.uploadStatus(id));
      } catch {
        // removed meanwhile, or data without a start marker: not an upload
      }
    }
    return out;
  }

  // --- metadata

  private metadataKey(key: string): string {
    return `${this.prefix}metadata/${checkMetadataKey(key).join('/')}`;
  }

  async getMetadata(key: string): Promise<Buffer | undefined> {
    return this.getObject(this.metadataKey(key));
  }

  async putMetadata(key: string, data: Uint8Array): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.metadataKey(key), Body: data }));
  }

  async deleteMetadata(key: string): Promise<void> {
    const full = this.metadataKey(key);
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: full }));
    await this.deletePrefix(full + '/');
  }

  async listMetadata(prefix: string): Promise<string[]> {
    const base = prefix === '' ? `${this.prefix}metadata/` : `${this.metadataKey(prefix)}/`;
    return this.listNames(base);
  }

  // --- S3 helpers

  private async getObject(key: string): Promise<Buffer | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  private async objectStream(key: string): Promise<Readable> {
    const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return res.Body as Readable;
  }

  private async *listObjects(prefix: string): AsyncGenerator<_Object> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) yield object;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The direct children of `prefix` (objects and "folders"), sorted. */
  private async listNames(prefix: string): Promise<string[]> {
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const p of page.CommonPrefixes ?? []) names.add(p.Prefix!.slice(prefix.length).replace(/\/$/, ''));
      for (const o of page.Contents ?? []) names.add(o.Key!.slice(prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    names.delete('');
    return [...names].sort();
  }

  private async deletePrefix(prefix: string): Promise<void> {
    let keys: string[] = [];
    const flush = async () => {
      if (keys.length === 0) return;
      await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
      keys = [];
    };
    for await (const object of this.listObjects(prefix)) {
      keys.push(object.Key!);
      if (keys.length >= 1000) await flush();
    }
    await flush();
  }
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchBucket' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
