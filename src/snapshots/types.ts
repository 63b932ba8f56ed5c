import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest';

/**
 * Snapshotter (containerd's model): file system trees stacked by parent, each one either
 * active (read-write, being built or used by a container), a view (read-only), or committed
 * (immutable, usable as a parent). Keys and names share one namespace. Lifecycle:
 *
 *   prepare(key, parent?) → active ── mounts(key) ── the caller mounts, writes, unmounts
 *        │                           └─ commit(name, key) → committed `name` (key is gone)
 *        └─ remove(key)
 *   view(key, parent?)    → view (read-only mounts of parent) ── remove(key)
 *   committed             → parent of further prepare/view ── remove(name), refused while
 *                           any snapshot has it as parent
 *
 * Mounts are data ({type, source, options}); mounting them is the caller's job
 * (src/snapshots/mount.ts does it for the common case). A committed snapshot has no mounts:
 * prepare or view on top of it instead. Only an active snapshot can be committed, and it
 * must not be mounted while it is. Every change of metadata is atomic: a kill -9 at any
 * instant leaves the old state or the new one, and `init()` of an implementation removes
 * what a crash left half-done. Errors: a missing key is NotFound, a taken key
 * AlreadyExists, a wrong kind or a removal of a parent FailedPrecondition.
 *
 * Builders use it directly: each step is prepare → write (RUN in a container, COPY straight
 * into the active tree) → commit. Image layers are applied by an unpacker (prepare, extract
 * the tar into the active tree, commit as the chain ID: `Unpacker` below); layer tars for a
 * committed snapshot are made again only when a blob is needed (save, push: `Differ`). A
 * container's root is an active snapshot (`ContainerSnapshots`); a view is how the image is
 * read without a container's changes (volume copy-up).
 */
export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  /** The key (active, view) or name (committed). */
  name: string;
  /** Name of the committed parent, or null for a base snapshot. */
  parent: string | null;
  kind: SnapshotKind;
  labels: Record<string, string>;
  /** ms since epoch */
  created: number;
  updated: number;
}

export interface SnapshotUsage {
  /** Bytes of the snapshot's own files (apparent size, not counting its parents). */
  size: number;
  inodes: number;
}

/** One mount as mount(2) takes it, e.g. {type: 'overlay', source: 'overlay', options: ['lowerdir=…', …]}. */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

export interface SnapshotOptions {
  labels?: Record<string, string>;
  /**
   * false: the change may be undone by a machine crash (not by a process crash), for a
   * snapshot that nothing needs after one (a --rm container's root: the daemon removes such
   * containers at start). Saves the directory fsyncs.
   */
  durable?: boolean;
}

export interface CommitSnapshotOptions extends SnapshotOptions {
  /**
   * Commits a base active snapshot (prepared on no parent) as a child of this committed
   * snapshot instead. Only for a tree that was never mounted and whose content does not
   * depend on its lowers: an image layer extracted ahead of its parent, as moby's overlay2
   * applies every diff into an empty directory.
   */
  parent?: string;
}

export interface Snapshotter {
  /** A new active snapshot on `parent` (a committed name, or null/undefined for an empty tree); returns its read-write mounts. */
  prepare(key: string, parent?: string | null, options?: SnapshotOptions): Promise<Mount[]>;
  /** A new read-only view of `parent`; returns its read-only mounts. */
  view(key: string, parent?: string | null, options?: SnapshotOptions): Promise<Mount[]>;
  /** The mounts of an active snapshot or a view. */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Turns active snapshot `key` into committed snapshot `name`; `key` no longer exists. The
   * committed snapshot's labels are those given here (the active one's are dropped, as in containerd).
   */
  commit(name: string, key: string, options?: CommitSnapshotOptions): Promise<SnapshotInfo>;
  /** Removes a snapshot of any kind; refused (FailedPrecondition) while another snapshot has it as parent. NotFound when absent. */
  remove(key: string, options?: { durable?: boolean }): Promise<void>;
  stat(key: string): Promise<SnapshotInfo>;
  /** Disk use of the snapshot's own layer (recorded at commit; measured for active snapshots). */
  usage(key: string): Promise<SnapshotUsage>;
  /** Calls `fn` for every snapshot, in no particular order. */
  walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void>;
}

/**
 * A snapshotter whose snapshots are directories on this host (overlay): the unpacker
 * extracts straight into an active snapshot's upper dir, and `docker diff` and the differ
 * read it, with no mount.
 */
export interface LocalSnapshotter extends Snapshotter {
  /** An active snapshot's changes, or a committed snapshot's own layer. */
  upperDir(key: string): Promise<string>;
  /** The committed layers under a snapshot, topmost first. */
  lowerDirs(key: string): Promise<string[]>;
  /** An active snapshot's overlay work dir. */
  workDirOf(key: string): Promise<string>;
}

/** One change in a container's RW layer, as `docker diff` shows it. Kind: 0 modified, 1 added, 2 deleted. */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/**
 * An image layer as the snapshot model keeps it: a committed snapshot named by its chain ID
 * (OCI image spec), labelled with its diff ID, unpacked once and shared by every image and
 * container on it.
 */
export interface Layer {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  /** Bytes of the unpacked files (apparent size). */
  size: number;
}

/**
 * The unpacker (content → snapshot): applies an uncompressed layer tar onto a committed
 * parent as prepare(temp key, parent) → extract into the active snapshot → commit(chain
 * ID). The stream's sha256 is its diff ID; a mismatch with `expectedDiffId` discards the
 * snapshot and throws InvalidArgument; when the chain ID exists already the stream is
 * drained and that layer returned. A layer is visible only once complete. Whiteouts are
 * stored in overlay form (char 0/0, trusted.overlay.opaque); `.wh.` names exist only at the
 * tar boundary. Entries are confined: `..`, absolute names and links leaving the layer are
 * refused with InvalidArgument.
 */
export interface Unpacker {
  apply(parent: Digest | null, tar: Readable, expectedDiffId?: Digest): Promise<Layer>;
  /**
   * Like apply, but extracts `tar` before its parent layer exists (into a base snapshot,
   * committed onto the parent once `parent` resolves: an overlay layer never reads its
   * lowers while extracted), so a pull unpacks every layer while it downloads. The diff ID
   * is checked before the parent is awaited; a parent that fails fails this too. `layer`
   * is the layer blob as stored: a tar, or one compressed (gzip, zstd…), decompressed here.
   */
  applyAhead(parent: Promise<Digest | null>, layer: Readable, expectedDiffId: Digest): Promise<Layer>;
}

/**
 * The differ (snapshot → content): a committed layer's tar made again from its files, byte
 * for byte the same each time so it hashes to the recorded diff ID, and only when a blob is
 * needed (save, push): commits and builds record a diff ID and write no blob.
 */
export interface Differ {
  layerTar(chainId: Digest): Promise<Readable>;
}

/**
 * Image layers over the snapshotter, as the image service uses them: the unpacker, the
 * differ, and lookups of the committed layer snapshots. Lifecycle: apply → committed layer
 * (immutable) → remove (idempotent; refused while a snapshot is based on it; the
 * metadata/GC layer decides when).
 */
export interface LayerSnapshots extends Unpacker, Differ {
  get(chainId: Digest): Promise<Layer | undefined>;
  list(): Promise<Layer[]>;
  /** Directories for overlay's lowerdir, topmost first (the layer itself, then its parents); inspect's GraphDriver data. */
  lowerDirs(chainId: Digest): Promise<string[]>;
  remove(chainId: Digest): Promise<void>;
}

/**
 * Containers' snapshots: each container's root file system is an active snapshot keyed by
 * the container id on its image's top layer. Lifecycle:
 *   prepare(id, chain) → mount(id) ⇄ unmount(id) → remove(id)
 * prepare/mount/unmount/remove are idempotent, so a crashed daemon can redo them at start.
 * Reading the image without the container's changes goes through a view
 * (`withLayerView`: snapshotter.view, mounted read-only, removed after).
 */
export interface ContainerSnapshots {
  /** The container's active snapshot on layer `parent` (null: an empty tree). */
  prepare(id: string, parent: Digest | null, options?: { durable?: boolean }): Promise<void>;
  /**
   * Mounts the active snapshot (if not yet mounted) and returns the mount point. `volatile`:
   * for a root that is thrown away at exit (`--rm`): overlay's volatile option, so syncs
   * inside and the unmount do not flush the data root's file system.
   */
  mount(id: string, options?: { volatile?: boolean }): Promise<string>;
  /**
   * `remountable`: after a volatile mount, overlay marks the upper dir so that the kernel
   * refuses to mount it again (after a crash its contents may be inconsistent); once this clean
   * unmount is done, in the same boot, the mark is removed, as overlay's documentation allows,
   * so the root can be mounted again.
   */
  unmount(id: string, options?: { remountable?: boolean }): Promise<void>;
  remove(id: string, options?: { durable?: boolean }): Promise<void>;
  /** The mount point path (whether mounted or not). */
  mountPoint(id: string): string;
  /** Host paths of the snapshot's overlay parts (inspect's GraphDriver data). */
  paths(id: string): Promise<{ upper: string; work: string; merged: string; lower: string[] }>;
  /** Changes in the active snapshot relative to its parent, sorted by path (`docker diff`). */
  changes(id: string): Promise<Change[]>;
  /** Bytes of the active snapshot's own files (`docker ps -s` SIZE): the snapshotter's usage. */
  rwSize(id: string): Promise<number>;
  /** Commits the container's changes as a new layer on its image's (the container may keep running); no blob is written. */
  commitChanges(id: string): Promise<{ layer: Layer; tarSize: number }>;
  /** Runs `fn` on an O_PATH fd of a read-only view of a layer (the image alone), removed afterwards. */
  withLayerView<T>(chainId: Digest, fn: (rootFd: number) => Promise<T>): Promise<T>;
  /** Every container id with an active snapshot. */
  list(): Promise<string[]>;
}
