import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest';

/**
 * Layer store: read-only image layers unpacked once on disk and shared by every image and
 * container that uses them, keyed by chain ID (OCI image spec). Lifecycle:
 *   apply(parent, tar) → layer visible (immutable) → remove (only when nothing uses it; the
 *   caller, the metadata/GC layer, decides that).
 * A layer becomes visible only when completely unpacked (unpack into a temp dir, then
 * rename). Whiteouts are stored in overlay form (char 0/0 devices, the
 * trusted.overlay.opaque xattr); `.wh.` names exist only at the tar boundary.
 * Tar entries are confined: `..`, absolute names, and links that would resolve outside
 * the layer are refused with InvalidArgument.
 */
export interface Layer {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  /** Bytes of the unpacked files (apparent size). */
  size: number;
}

export interface LayerStore {
  /**
   * Unpacks an uncompressed layer tar onto `parent`. The stream's sha256 is its diff ID;
   * if `expectedDiffId` is given and differs, the layer is discarded and InvalidArgument
   * thrown. If the resulting chain ID already exists, the stream is drained and the
   * existing layer returned.
   */
  apply(parent: Digest | null, tar: Readable, expectedDiffId?: Digest): Promise<Layer>;
  get(chainId: Digest): Promise<Layer | undefined>;
  list(): Promise<Layer[]>;
  /** Directories for overlay's lowerdir, topmost first (the layer itself, then its parents). */
  lowerDirs(chainId: Digest): Promise<string[]>;
  /** Idempotent. */
  remove(chainId: Digest): Promise<void>;
}

/** One change in a container's RW layer, as `docker diff` shows it. Kind: 0 modified, 1 added, 2 deleted. */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/**
 * Container root file systems: a RW overlay layer over an image's layers. Lifecycle:
 *   create(id, parent) → mount(id) ⇄ unmount(id) → remove(id).
 * mount/unmount/remove are idempotent, so a crashed daemon can redo them at start.
 */
export interface RootfsStore {
  create(id: string, parent: Digest | null): Promise<void>;
  /** Mounts the overlay (if not yet mounted) and returns the mount point. */
  mount(id: string): Promise<string>;
  unmount(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** The mount point path (whether mounted or not). */
  mountPoint(id: string): string;
  /** Changes in the RW layer relative to the image, sorted by path. */
  changes(id: string): Promise<Change[]>;
  /** Bytes in the RW layer (`docker ps -s` SIZE). */
  rwSize(id: string): Promise<number>;
  /** The RW layer as a layer tar (whiteouts in `.wh.` form), for commit. */
  diffTar(id: string): Readable;
  /** Every id with a RW layer on disk. */
  list(): Promise<string[]>;
}
