import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest';

/**
 * Content store: immutable blobs addressed by their sha256 digest (manifests, configs,
 * layer tarballs). Split into roles, as in containerd:
 *  - ContentProvider reads committed blobs;
 *  - ContentIngester writes new ones;
 *  - ContentManager inspects, walks and deletes.
 * Lifecycle rule: a blob is invisible until its write is committed. A write streams into
 * a temp file in the ingest area while its digest is computed; commit verifies the digest
 * (and size) against the expected one, fsyncs, and renames the file into place. A failed or
 * aborted write leaves nothing behind. Committing content that already exists succeeds
 * and keeps the existing blob.
 */
export interface BlobInfo {
  digest: Digest;
  size: number;
  /** ms since epoch */
  createdAt: number;
}

export interface ContentProvider {
  /** Throws NotFound ("blob sha256:... not found") when absent. */
  info(digest: Digest): Promise<BlobInfo>;
  has(digest: Digest): Promise<boolean>;
  readBlob(digest: Digest): Promise<Buffer>;
  /** Streams the blob; when `verify` is set the stream errors if the bytes no longer match the digest (corruption). */
  createReadStream(digest: Digest, options?: { verify?: boolean }): Readable;
  /** Host path of a committed blob (read-only use). */
  blobPath(digest: Digest): string;
}

export interface ContentWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies, then makes the blob visible. Throws InvalidArgument on digest/size mismatch (and removes the temp data). */
  commit(expected?: { digest?: Digest; size?: number }): Promise<BlobInfo>;
  abort(): Promise<void>;
}

export interface ContentIngester {
  writer(): Promise<ContentWriter>;
  /** Convenience: ingest a whole stream / buffer. */
  ingest(source: Readable | Uint8Array, expected?: { digest?: Digest; size?: number }): Promise<BlobInfo>;
}

export interface ContentManager {
  list(): Promise<BlobInfo[]>;
  /** Idempotent. */
  delete(digest: Digest): Promise<void>;
}

export interface ContentStore extends ContentProvider, ContentIngester, ContentManager {}
