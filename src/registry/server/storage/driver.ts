import type { Readable } from 'node:stream';
import type { Digest } from '../../../util/digest';

/**
 * The registry's storage driver: what a backend (the local file system, later an S3-style
 * object store) must offer. Split into three small roles, each usable by a backend's natural
 * primitives:
 *
 *  - BlobDriver: immutable, content-addressed blobs (layers, configs, manifests). Objects by
 *    digest; a range read is an HTTP Range GET on S3.
 *  - UploadDriver: uploads in flight. An upload is appended to in order and becomes a blob
 *    only by `commitUpload`, which verifies digest (and size) against what was written: on S3
 *    a multipart upload completed into a temporary key and copied to its digest key.
 *  - MetadataDriver: small documents under slash-separated keys (tag and link files); on S3,
 *    PUT/GET/DELETE of small objects and LIST with a delimiter.
 *
 * Lifecycle and guarantees every driver keeps (the conformance suite in testsuite.ts checks them):
 *  - A blob is visible (statBlob/readBlob/listBlobs) only once complete and verified; a commit
 *    whose content does not match leaves no blob, and removes the upload.
 *  - Two uploads of the same content committed concurrently both succeed and leave one blob.
 *  - An upload is resumable: `uploadStatus` gives the offset where the next append starts;
 *    one append at a time per upload (a concurrent one fails with UploadBusyError).
 *  - `putMetadata` replaces a document atomically: a reader sees the old or the new bytes.
 *  - Deletes are idempotent.
 */

/** A committed blob. */
export interface BlobStat {
  digest: Digest;
  size: number;
  /** ms since epoch: when it was written (GC keeps recent blobs). */
  modifiedAt: number;
}

export interface BlobRange {
  /** First byte. */
  offset: number;
  /** Number of bytes (at least 1); the caller has checked the range against the size. */
  length: number;
}

/** Random access to one stored blob (a ReaderAt), open until close(). */
export interface BlobReader {
  size: number;
  /** Fills `into` from `position` as far as the blob goes; the number of bytes read (0 at the end). */
  read(into: Buffer, position: number): Promise<number>;
  /** The open file's descriptor, when the blob is a local file (zero-copy sends). */
  fd?: number;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface BlobDriver {
  /** undefined when absent. */
  statBlob(digest: Digest): Promise<BlobStat | undefined>;
  /** The blob, or a range of it. Fails (on the stream) when absent. */
  readBlob(digest: Digest, range?: BlobRange): Readable;
  /**
   * Optional random access (NotFound when absent), for a driver whose reads are cheap to
   * issue at any offset (a local file): the server copies a blob into the socket through two
   * buffers it reuses instead of a stream's fresh buffer per chunk.
   */
  openBlob?(digest: Digest): Promise<BlobReader>;
  /** Small blobs (manifests) whole; undefined when absent. */
  getBlob(digest: Digest): Promise<Buffer | undefined>;
  /** Stores a small blob (a manifest) after checking its digest. */
  putBlob(digest: Digest, data: Uint8Array): Promise<BlobStat>;
  deleteBlob(digest: Digest): Promise<void>;
  listBlobs(): AsyncIterable<BlobStat>;
}

export interface UploadStatus {
  id: string;
  /** Bytes received so far: where the next append starts. */
  offset: number;
  /** ms since epoch */
  startedAt: number;
  /** ms since epoch: the last append. */
  updatedAt: number;
}

export interface UploadDriver {
  /** Starts an empty upload. `id` is opaque to the driver (the server's upload UUID). */
  createUpload(id: string): Promise<UploadStatus>;
  /** NotFound (EngineError) when there is no such upload. */
  uploadStatus(id: string): Promise<UploadStatus>;
  /**
   * Appends `source` to the upload, which must be at `expectedOffset` when one is given
   * (else UploadOffsetError). With `limit`, more bytes than that fail the append. On a failed
   * append (client gone, limit) the upload keeps exactly the bytes received before the
   * failure. With `sourceOwned`, the caller is the source's last user (an HTTP request body):
   * the driver may free each piece's memory once it is stored. Returns the new status.
   */
  appendUpload(id: string, source: Readable, options?: { expectedOffset?: number; limit?: number; sourceOwned?: boolean }): Promise<UploadStatus>;
  /**
   * Verifies what was uploaded hashes to `digest` (and has `size`, when given), then makes it
   * the blob. On a mismatch: DigestMismatchError (or SizeMismatchError), the upload is removed
   * and nothing is stored.
   */
  commitUpload(id: string, digest: Digest, size?: number): Promise<BlobStat>;
  /** Removes the upload and its data; NotFound when absent. */
  cancelUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadStatus[]>;
}

export interface MetadataDriver {
  /** Keys are `a/b/c` segments of [A-Za-z0-9._:@+-] without `.`/`..`; undefined when absent. */
  getMetadata(key: string): Promise<Buffer | undefined>;
  /**
   * Optional: whether the document exists (what getMetadata would not answer undefined for),
   * for a driver where asking is cheaper than reading (a local file: one stat, not four calls).
   */
  hasMetadata?(key: string): Promise<boolean>;
  /**
   * Replaces the document atomically. With `durable: false` it may be missing after a machine
   * crash (never torn): for advisory records that cost a round trip to the disk otherwise
   * (an upload's repository marker).
   */
  putMetadata(key: string, data: Uint8Array, options?: { durable?: boolean }): Promise<void>;
  /** Removes the key and everything under it (as a folder); idempotent. */
  deleteMetadata(key: string): Promise<void>;
  /** Names of the direct children of `prefix` (documents and folders), sorted; [] when absent. */
  listMetadata(prefix: string): Promise<string[]>;
}

export interface StorageDriver extends BlobDriver, UploadDriver, MetadataDriver {
  /** For logs: "filesystem /srv/registry". */
  readonly description: string;
  /** Creates what the driver needs and drops leftovers of a crash. Called once before use. */
  init(): Promise<void>;
}

/** The committed content does not hash to the digest the client named. */
export class DigestMismatchError extends Error {
  constructor(readonly expected: Digest, readonly actual: Digest) {
    super(`digest mismatch: expected ${expected}, the content has ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

export class SizeMismatchError extends Error {
  constructor(readonly expected: number, readonly actual: number) {
    super(`size mismatch: expected ${expected} bytes, received ${actual}`);
    this.name = 'SizeMismatchError';
  }
}

/** An append that does not start where the upload ends. */
export class UploadOffsetError extends Error {
  constructor(readonly expected: number, readonly actual: number) {
    super(`upload is at offset ${actual}, not ${expected}`);
    this.name = 'UploadOffsetError';
  }
}

/** Another request is appending to or committing the same upload. */
export class UploadBusyError extends Error {
  constructor(readonly id: string) {
    super(`upload ${id} is in use by another request`);
    this.name = 'UploadBusyError';
  }
}

/** An append that passed its byte limit. */
export class UploadLimitError extends Error {
  constructor(readonly limit: number) {
    super(`upload data exceeds the limit of ${limit} bytes`);
    this.name = 'UploadLimitError';
  }
}

const KEY_SEGMENT = /^[A-Za-z0-9_:@+-][A-Za-z0-9._:@+-]*$/;

/** Checks a metadata key (see MetadataDriver); throws on anything that could escape a prefix. */
export function checkMetadataKey(key: string): string[] {
  const segments = key.split('/');
  for (const segment of segments) {
    if (!KEY_SEGMENT.test(segment) || segment === '.' || segment === '..') throw new Error(`invalid storage key ${JSON.stringify(key)}`);
  }
  return segments;
}
