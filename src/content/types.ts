import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest';

/**
 * Content store: immutable blobs addressed by their sha256 digest (manifests, configs,
 * layer tarballs). Split into roles, as in containerd:
 *  - ContentProvider reads committed blobs (whole, streamed, or a byte range);
 *  - ContentIngester writes new ones;
 *  - IngestManager lists, inspects and aborts writes in flight;
 *  - ContentManager inspects, labels, walks and deletes.
 *
 * Lifecycle rule: a blob is invisible until its write is committed. A write streams into
 * a file in the ingest area while its digest is computed; commit verifies the digest (and
 * size) against the expected one, fsyncs, writes the blob's labels, and renames the file into
 * place, so a visible blob always has its labels. A failed commit (digest or size mismatch)
 * and an abort leave nothing behind. Committing content that already exists succeeds, keeps
 * the existing blob and merges the given labels into its labels.
 *
 * Named ingests: a writer opened with a `ref` (containerd's WithRef, e.g. the registry's
 * upload id or "pull-<digest>") can be closed without committing and reopened later, also
 * after a restart of the store: its data stays in the ingest area, and a reopened writer
 * continues at `status().offset` (the digest state is rebuilt by re-reading the partial data
 * when it is not in memory). One writer at a time holds a ref; opening a held ref fails with
 * Unavailable. A writer without a ref is anonymous: closing it aborts it, and a restart
 * removes it. A write past the ingest's declared `total` is refused (InvalidArgument) and
 * writes nothing.
 *
 * Labels: string pairs on committed blobs, stored crash-safely next to them (a kill -9 leaves
 * the old labels or the new ones). Keys and values: a non-empty key, key + value at most
 * 4096 bytes, as containerd. Keys with a meaning to berth:
 *  - `containerd.io/gc.ref.content.<name>`: the value is the digest of another blob this one
 *    references, which the garbage collector must keep while this one is kept (containerd's
 *    convention: `.config`, `.l.<i>` for a manifest's layers, `.m.<i>` for an index's
 *    manifests);
 *  - `containerd.io/gc.ref.snapshot.<snapshotter>`: the value is a snapshot key to keep;
 *  - `containerd.io/gc.root`: any value; the blob is a GC root by itself;
 *  - `containerd.io/uncompressed`: a compressed layer's diff ID;
 *  - `containerd.io/distribution.source.<registry host>`: repositories the blob came from;
 *  - `berth/gc.*`: reserved for berth's own GC references (metadata/GC code defines them), as
 *    `berth/gc.ref.content.<name>` and `berth/gc.root` with the meanings above.
 */
export const LABEL_GC_REF_CONTENT_PREFIX = 'containerd.io/gc.ref.content.';
export const LABEL_GC_REF_SNAPSHOT_PREFIX = 'containerd.io/gc.ref.snapshot.';
export const LABEL_GC_ROOT = 'containerd.io/gc.root';
export const LABEL_UNCOMPRESSED = 'containerd.io/uncompressed';
export const LABEL_DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.';
export const BERTH_GC_LABEL_PREFIX = 'berth/gc.';
/** containerd's bound on one label (key + value, bytes). */
export const MAX_LABEL_SIZE = 4096;

export type Labels = Record<string, string>;

export interface BlobInfo {
  digest: Digest;
  size: number;
  /** ms since epoch */
  createdAt: number;
  /** ms since epoch: the last label change (createdAt when never changed). */
  updatedAt: number;
  labels: Labels;
}

/** A write in flight (containerd's content.Status). */
export interface IngestStatus {
  ref: string;
  /** Bytes written so far: where a resumed write continues. */
  offset: number;
  /** The size announced when the ingest started, when known. */
  total?: number;
  /** The digest announced when the ingest started, when known. */
  expected?: Digest;
  /** ms since epoch */
  startedAt: number;
  /** ms since epoch: the last write. */
  updatedAt: number;
}

export interface ReadRange {
  /** First byte (default 0); at most the blob's size. */
  offset?: number;
  /** Bytes from `offset` (default: to the end); a range past the end is cut at the end. */
  length?: number;
}

export interface ContentProvider {
  /** Throws NotFound ("blob sha256:... not found") when absent. */
  info(digest: Digest): Promise<BlobInfo>;
  has(digest: Digest): Promise<boolean>;
  readBlob(digest: Digest): Promise<Buffer>;
  /** A byte range (ReaderAt-like, for registry Range requests); InvalidArgument past the end. */
  read(digest: Digest, range: ReadRange): Promise<Buffer>;
  /**
   * Streams the blob, or a range of it; with `verify` (whole blobs only) the stream errors
   * if the bytes no longer match the digest (corruption).
   */
  createReadStream(digest: Digest, options?: { verify?: boolean } & ReadRange): Readable;
  /** Host path of a committed blob (read-only use). */
  blobPath(digest: Digest): string;
}

export interface CommitOptions {
  digest?: Digest;
  size?: number;
  /** Labels for the blob (merged into an existing blob's labels). */
  labels?: Labels;
}

export interface ContentWriter {
  /** Appends at `status().offset`. InvalidArgument when it would pass the announced total. */
  write(chunk: Uint8Array): Promise<void>;
  /** Appends the chunks in order with one system call (`writev`), as `write` would one by one. */
  writev(chunks: Uint8Array[]): Promise<void>;
  status(): IngestStatus;
  /** Starts the ingest over (only 0 is supported, as containerd's local store). */
  truncate(size: 0): Promise<void>;
  /** Verifies, then makes the blob visible. Throws InvalidArgument on digest/size mismatch (and removes the ingest). */
  commit(expected?: CommitOptions): Promise<BlobInfo>;
  /** Releases the ref, keeping the data for a later writer with the same ref (an anonymous writer is aborted). */
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface WriterOptions {
  /** Names the ingest, making it resumable (see the lifecycle above). */
  ref?: string;
  /** The expected size: writes past it are refused, and commit checks it. */
  total?: number;
  /** The expected digest, checked at commit. */
  expected?: Digest;
  /** Only resume the named ingest: NotFound when it does not exist, and nothing is created. */
  existing?: boolean;
}

export interface ContentIngester {
  /** A new ingest, or the named one resumed. Unavailable when another writer holds the ref. */
  writer(options?: WriterOptions): Promise<ContentWriter>;
  /** Convenience: ingest a whole stream / buffer. */
  ingest(source: Readable | Uint8Array, expected?: CommitOptions): Promise<BlobInfo>;
}

export interface IngestManager {
  /** NotFound when no ingest has this ref. */
  status(ref: string): Promise<IngestStatus>;
  /** Named ingests in flight, optionally only those whose ref starts with `prefix`. */
  listIngests(prefix?: string): Promise<IngestStatus[]>;
  /** Removes a named ingest; NotFound when absent, Unavailable while a writer holds it. */
  abortIngest(ref: string): Promise<void>;
}

export interface ContentManager {
  list(): Promise<BlobInfo[]>;
  /**
   * Changes a blob's labels. Without `fieldpaths` the labels are replaced; with them only the
   * named ones change (`labels.<key>`: set from `labels`, or removed when absent there;
   * `labels`: replace all), as containerd's Update.
   */
  update(digest: Digest, labels: Labels, fieldpaths?: string[]): Promise<BlobInfo>;
  /** Idempotent. */
  delete(digest: Digest): Promise<void>;
}

export interface ContentStore extends ContentProvider, ContentIngester, IngestManager, ContentManager {}
