import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalContentStore } from '../../../content/local/store';
import type { ContentWriter } from '../../../content/types';
import { errorKind, isENOENT, isNotFound, notFound } from '../../../errors';
import { isDigest, type Digest } from '../../../util/digest';
import { writeFileAtomic } from '../../../util/atomic-fs';
import { batchingSink } from '../../../util/batching-sink';
import { releaseBuffers } from '../../../util/release-buffers';
import {
  checkMetadataKey,
  DigestMismatchError,
  SizeMismatchError,
  UploadBusyError,
  UploadLimitError,
  UploadOffsetError,
  type BlobRange,
  type BlobReader,
  type BlobStat,
  type StorageDriver,
  type UploadStatus,
} from './driver';

const UPLOAD_REF_PREFIX = 'registry-upload/';


/**
 * The filesystem storage driver. Blobs and uploads live in berth's content store
 * (src/content/local, under `<root>/content`): uploads are its named ingests, hashed while
 * written, and a commit verifies and renames into place, so the content store's guarantees
 * (visible only when complete and verified, concurrent commits of one blob safe, resumable
 * after a restart) are the driver's. Metadata documents are files under `<root>/metadata`,
 * replaced atomically.
 */
export class FilesystemDriver implements StorageDriver {
  readonly description: string;
  private readonly content: LocalContentStore;
  private readonly metadataRoot: string;

  constructor(readonly root: string) {
    this.description = `filesystem ${root}`;
    this.content = new LocalContentStore(root);
    this.metadataRoot = path.join(root, 'metadata');
  }

  async init(): Promise<void> {
    await this.content.init();
    await fs.mkdir(this.metadataRoot, { recursive: true });
  }

  // --- blobs

  async statBlob(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const info = await this.content.info(digest);
      return { digest, size: info.size, modifiedAt: info.createdAt };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  readBlob(digest: Digest, range?: BlobRange): Readable {
    return this.content.createReadStream(digest, range ? { offset: range.offset, length: range.length } : {});
  }

  async openBlob(digest: Digest): Promise<BlobReader> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.content.blobPath(digest), 'r');
    } catch (err) {
      if (isENOENT(err)) throw notFound(`blob ${digest} not found`, err);
      throw err;
    }
    const { size } = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    let closing: Promise<void> | undefined;
    return {
      size,
      fd: handle.fd,
      read: async (into, position) => (await handle.read(into, 0, into.length, position)).bytesRead,
      close: () => (closing ??= handle.close()),
    };
  }

  async getBlob(digest: Digest): Promise<Buffer | undefined> {
    try {
      return await this.content.readBlob(digest);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async putBlob(digest: Digest, data: Uint8Array): Promise<BlobStat> {
    try {
      const info = await this.content.ingest(data, { digest, size: data.length });
      return { digest, size: info.size, modifiedAt: info.createdAt };
    } catch (err) {
      throw mismatchError(err, digest) ?? err;
    }
  }

  async deleteBlob(digest: Digest): Promise<void> {
    await this.content.delete(digest);
  }

  async *listBlobs(): AsyncIterable<BlobStat> {
    for (const info of await this.content.list()) yield { digest: info.digest, size: info.size, modifiedAt: info.createdAt };
  }

  // --- uploads

  private ref(id: string): string {
    return `${UPLOAD_REF_PREFIX}${id}`;
  }

  /** Opens the upload's writer: NotFound when it does not exist, UploadBusyError when held. */
  private async openUpload(id: string): Promise<ContentWriter> {
    try {
      return await this.content.writer({ ref: this.ref(id), existing: true });
    } catch (err) {
      if (errorKind(err) === 'Unavailable') throw new UploadBusyError(id);
      throw err;
    }
  }

  async createUpload(id: string): Promise<UploadStatus> {
    const writer = await this.content.writer({ ref: this.ref(id) });
    const status = statusOf(id, writer);
    await writer.close();
    return status;
  }

  async uploadStatus(id: string): Promise<UploadStatus> {
    const status = await this.content.status(this.ref(id));
    return { id, offset: status.offset, startedAt: status.startedAt, updatedAt: status.updatedAt };
  }

  async appendUpload(id: string, source: Readable, options: { expectedOffset?: number; limit?: number; sourceOwned?: boolean } = {}): Promise<UploadStatus> {
    const writer = await this.openUpload(id);
    try {
      const start = writer.status().offset;
      if (options.expectedOffset !== undefined && options.expectedOffset !== start) throw new UploadOffsetError(options.expectedOffset, start);
      let received = 0;
      const check = (chunk: Buffer) => {
        received += chunk.length;
        if (options.limit !== undefined && received > options.limit) throw new UploadLimitError(options.limit);
      };
      // Batched: the socket is read on while a write is in flight (util/batching-sink.ts).
      // Written and hashed, an owned body's pieces are not read again: their memory goes back
      // now. Never a caller's own buffers: freed, they would read as empty.
      const written = options.sourceOwned ? (chunks: Buffer[]) => writer.writev(chunks).then(() => releaseBuffers(chunks)) : (chunks: Buffer[]) => writer.writev(chunks);
      await pipeline(source, batchingSink(written, { check }));
      return statusOf(id, writer);
    } finally {
      // Keeps every byte written before a failure: the client may resume from the offset.
      await writer.close();
    }
  }

  async commitUpload(id: string, digest: Digest, size?: number): Promise<BlobStat> {
    const writer = await this.openUpload(id);
    const offset = writer.status().offset;
    if (size !== undefined && size !== offset) {
      await writer.abort();
      throw new SizeMismatchError(size, offset);
    }
    try {
      const info = await writer.commit({ digest });
      return { digest, size: info.size, modifiedAt: info.createdAt };
    } catch (err) {
      // commit removed the ingest: nothing of the upload stays.
      throw mismatchError(err, digest) ?? err;
    }
  }

  async cancelUpload(id: string): Promise<void> {
    try {
      await this.content.abortIngest(this.ref(id));
    } catch (err) {
      if (errorKind(err) === 'Unavailable') throw new UploadBusyError(id);
      throw err;
    }
  }

  async listUploads(): Promise<UploadStatus[]> {
    const ingests = await this.content.listIngests(UPLOAD_REF_PREFIX);
    return ingests.map((s) => ({ id: s.ref.slice(UPLOAD_REF_PREFIX.length), offset: s.offset, startedAt: s.startedAt, updatedAt: s.updatedAt }));
  }

  // --- metadata

  private metadataPath(key: string): string {
    return path.join(this.metadataRoot, ...checkMetadataKey(key));
  }

  async getMetadata(key: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.metadataPath(key));
    } catch (err) {
      if (isENOENT(err) || (err as NodeJS.ErrnoException).code === 'EISDIR' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async hasMetadata(key: string): Promise<boolean> {
    try {
      return (await fs.stat(this.metadataPath(key))).isFile();
    } catch (err) {
      if (isENOENT(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
      throw err;
    }
  }

  async putMetadata(key: string, data: Uint8Array, options: { durable?: boolean } = {}): Promise<void> {
    const file = this.metadataPath(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, data, 0o644, { durable: options.durable !== false });
  }

  async deleteMetadata(key: string): Promise<void> {
    await fs.rm(this.metadataPath(key), { recursive: true, force: true });
  }

  async listMetadata(prefix: string): Promise<string[]> {
    try {
      const names = await fs.readdir(prefix === '' ? this.metadataRoot : this.metadataPath(prefix));
      return names.filter((n) => !n.startsWith('.')).sort();
    } catch (err) {
      if (isENOENT(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw err;
    }
  }
}

/** An open upload's status, as uploadStatus would read it back (no second look at the disk). */
function statusOf(id: string, writer: ContentWriter): UploadStatus {
  const status = writer.status();
  return { id, offset: status.offset, startedAt: status.startedAt, updatedAt: status.updatedAt };
}

/** The content store's commit mismatch (InvalidArgument "unexpected commit digest X, expected Y") as the driver's error. */
function mismatchError(err: unknown, expected: Digest): Error | undefined {
  if (errorKind(err) !== 'InvalidArgument') return undefined;
  const message = err instanceof Error ? err.message : '';
  const digestMatch = /unexpected commit digest (\S+), expected/.exec(message);
  if (digestMatch && isDigest(digestMatch[1]!)) return new DigestMismatchError(expected, digestMatch[1]);
  const sizeMatch = /unexpected commit size (\d+), expected (\d+)/.exec(message);
  if (sizeMatch) return new SizeMismatchError(Number(sizeMatch[2]), Number(sizeMatch[1]));
  return undefined;
}

