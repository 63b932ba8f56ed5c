import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Digest } from '../util/digest';
import { readJsonIfExists } from '../util/atomic-fs';
import { Mutex } from '../util/mutex';
import { failedPrecondition, invalidArgument, notFound } from '../errors';
import type { Descriptor } from '../images/models';
import { Reference, parseAnyReference, parseNormalizedNamed, referenceString, withDefaultTag, fullName } from '../images/reference';
import { Journal, JournalOp } from './journal';

/**
 * The image/ref store: which images exist and which names point at them. An image's ID is
 * its config digest; its record names the manifest (the target) whose blobs live in the
 * content store. Refs map a normalized "name:tag" or "name@digest" to an image ID.
 * Records live in an append-only journal (`journal.ts`): every update (a load registering
 * several images and tags at once) is one batch, all-or-nothing across a crash. In memory
 * they are indexed by ID, by ref, by image (its refs) and by parent (its children), so no
 * lookup scans every record.
 */
export interface ImageRecord {
  /** Version of this record's shape; a record of a version this berth does not know stops the daemon. */
  schemaVersion: typeof IMAGE_SCHEMA_VERSION;
  /** Config digest. */
  id: Digest;
  /** The image manifest (OCI or Docker v2 schema 2) in the content store. */
  target: Descriptor;
  /** When berth registered the image (RFC 3339). */
  registeredAt: string;
  /** Local parent image (docker commit / build), which Docker uses for "dependent child" conflicts. */
  parent?: Digest;
  /** Last time a tag was set to this image (Docker's Metadata.LastTagTime). */
  lastTagTime?: string;
  /**
   * What the image holds besides its manifest (schema 2): the garbage collector marks from
   * these without reading blobs. Absent only on a version 1 record whose blobs could not be
   * read when it was migrated (the collector then reads them, or aborts).
   */
  references?: ImageReferences;
}

/** The blobs and layer chains an image references, beyond its manifest (`target`). */
export interface ImageReferences {
  config: Digest;
  /** The manifest's layer blob digests (a committed layer's blob may not exist until needed). */
  layers: Digest[];
  /** Chain IDs of the config's diff IDs: the image's layers in the snapshotter. */
  chains: Digest[];
}

/** Version 2: records carry `references`. Version 1 records are migrated at init(). */
export const IMAGE_SCHEMA_VERSION = 2 as const;
const MIGRATABLE_SCHEMA_VERSIONS: readonly number[] = [1];
/** The journal's own layout (keys `image/`, `ref/`), unchanged by record versions. */
const IMAGES_JOURNAL_VERSION = 1;
/** Records migrated per journal batch (each batch is atomic; a crash mid-way resumes). */
const MIGRATION_BATCH = 500;
/** The layout before the journal: one JSON file rewritten atomically. */
const LEGACY_FILE_VERSION = 1;

const IMAGE_PREFIX = 'image/';
const REF_PREFIX = 'ref/';

/** What an image record looks like to callers creating one (the store stamps the version); references are required. */
export type NewImageRecord = Omit<ImageRecord, 'schemaVersion' | 'references'> & { schemaVersion?: number; references: ImageReferences };

export interface ImageMetadataOptions {
  durable?: boolean;
  minDeadLines?: number;
  /**
   * Reads what an image references from its manifest and config (the content store), for
   * the migration of version 1 records at init(). Without it, a store holding version 1
   * records refuses to open.
   */
  readReferences?: (target: Descriptor) => Promise<ImageReferences>;
}

/** Read access to one consistent state; shared by the store and its transactions. */
abstract class ImageIndexView {
  abstract get(id: Digest): ImageRecord | undefined;
  abstract list(): ImageRecord[];
  /** The image a normalized ref key points at. */
  protected abstract refTarget(key: string): Digest | undefined;
  /** Normalized ref keys pointing at `id`. */
  protected abstract refKeysOf(id: Digest): string[];
  abstract children(id: Digest): ImageRecord[];
  abstract allRefs(): Array<{ ref: Reference; id: Digest }>;
  /** IDs starting with a hex prefix. */
  protected abstract idsWithPrefix(hexPrefix: string): Digest[];

  /** Refs pointing at `id`, sorted (tags and digests). */
  refsOf(id: Digest): readonly Reference[] {
    return this.refKeysOf(id)
      .sort()
      .map(parseRefKey);
  }

  /** The image a reference (with tag or digest) points at. */
  lookupRef(ref: Reference): Digest | undefined {
    return this.refTarget(refKey(ref));
  }

  /**
   * Finds an image from what a user typed, in Docker's order: a full ID or sha256 digest;
   * a name (":latest" implied) or name@digest; then a unique ID prefix (≥ 1 hex char, with
   * or without "sha256:"). Throws NotFound "No such image: X", or InvalidArgument for an
   * ambiguous prefix or a malformed reference.
   */
  resolve(input: string): ImageRecord {
    const any = parseAnyReferenceLenient(input);
    if (any?.kind === 'id') {
      const record = this.get(any.digest);
      if (record) return record;
      throw notFound(`No such image: ${input}`);
    }
    if (any?.kind === 'named') {
      const id = this.lookupRef(any.ref);
      if (id !== undefined) {
        const record = this.get(id);
        if (record) return record;
      }
    }
    const prefix = input.startsWith('sha256:') ? input.slice('sha256:'.length) : input;
    if (/^[a-f0-9]{1,64}$/.test(prefix)) {
      const matches = this.idsWithPrefix(prefix);
      if (matches.length === 1) return this.get(matches[0]) as ImageRecord;
      if (matches.length > 1) throw invalidArgument(`ambiguous image ID prefix "${input}": it matches ${matches.length} images`);
    }
    if (any === undefined) parseAnyReference(input); // rethrows the reference error
    throw notFound(`No such image: ${input}`);
  }
}

const parsedKeys = new Map<string, Reference>();

/** A stored ref key parsed once (keys are normalized and immutable; listing 10k images parses them on every call otherwise). */
function parseRefKey(key: string): Reference {
  let ref = parsedKeys.get(key);
  if (!ref) {
    ref = Object.freeze(parseNormalizedNamed(key));
    if (parsedKeys.size > 100_000) parsedKeys.clear();
    parsedKeys.set(key, ref);
  }
  return ref;
}

/** A reference parse that lets "sha256:abc" (an ID prefix) through to the prefix search. */
function parseAnyReferenceLenient(input: string): ReturnType<typeof parseAnyReference> | undefined {
  try {
    return parseAnyReference(input);
  } catch (err) {
    if (/^(sha256:)?[a-f0-9]{1,64}$/.test(input)) return undefined;
    throw err;
  }
}

/** Normalized key of a reference: "docker.io/library/busybox:latest" or "...@sha256:...". */
export function refKey(ref: Reference): string {
  const r = withDefaultTag(ref);
  // A canonical reference is stored without its tag, as Docker's reference store does.
  if (r.digest !== undefined) return `${fullName(r)}@${r.digest}`;
  return referenceString(r);
}

/** The in-memory indexes, rebuilt from the journal at start and kept up to date on each batch. */
class ImageIndexes {
  readonly images = new Map<Digest, ImageRecord>();
  readonly refs = new Map<string, Digest>();
  readonly refsByImage = new Map<Digest, Set<string>>();
  readonly childrenByParent = new Map<Digest, Set<Digest>>();
  /** Each image's sorted, frozen refs, until they change: the same array while unchanged, so views can be cached by identity. */
  readonly refsView = new Map<Digest, readonly Reference[]>();

  apply(op: JournalOp): void {
    const [kind, key] = op;
    if (key.startsWith(IMAGE_PREFIX)) {
      const id = key.slice(IMAGE_PREFIX.length) as Digest;
      const old = this.images.get(id);
      if (old?.parent !== undefined) this.childrenByParent.get(old.parent)?.delete(id);
      if (kind === 'p') {
        const record = op[2] as ImageRecord;
        this.images.set(id, record);
        if (record.parent !== undefined) setOf(this.childrenByParent, record.parent).add(id);
      } else {
        this.images.delete(id);
        this.refsView.delete(id);
      }
    } else if (key.startsWith(REF_PREFIX)) {
      const name = key.slice(REF_PREFIX.length);
      const old = this.refs.get(name);
      if (old !== undefined) {
        this.refsByImage.get(old)?.delete(name);
        this.refsView.delete(old);
      }
      if (kind === 'p') {
        const id = op[2] as Digest;
        this.refs.set(name, id);
        setOf(this.refsByImage, id).add(name);
        this.refsView.delete(id);
      } else this.refs.delete(name);
    }
  }
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}

/** A batch of changes applied atomically by ImageMetadataStore.update; reads see its own writes. */
export class ImageMetadataTx extends ImageIndexView {
  /** key → new value (undefined: deleted). */
  readonly changes = new Map<string, unknown>();

  constructor(private readonly base: ImageIndexes) {
    super();
  }

  get(id: Digest): ImageRecord | undefined {
    const key = IMAGE_PREFIX + id;
    return this.changes.has(key) ? (this.changes.get(key) as ImageRecord | undefined) : this.base.images.get(id);
  }

  list(): ImageRecord[] {
    const ids = new Set<Digest>(this.base.images.keys());
    for (const key of this.changes.keys()) if (key.startsWith(IMAGE_PREFIX)) ids.add(key.slice(IMAGE_PREFIX.length) as Digest);
    return [...ids].map((id) => this.get(id)).filter((r): r is ImageRecord => r !== undefined);
  }

  protected refTarget(key: string): Digest | undefined {
    const k = REF_PREFIX + key;
    return this.changes.has(k) ? (this.changes.get(k) as Digest | undefined) : this.base.refs.get(key);
  }

  protected refKeysOf(id: Digest): string[] {
    const keys = new Set<string>();
    for (const name of this.base.refsByImage.get(id) ?? []) if (this.refTarget(name) === id) keys.add(name);
    for (const [k, v] of this.changes) if (k.startsWith(REF_PREFIX) && v === id) keys.add(k.slice(REF_PREFIX.length));
    return [...keys];
  }

  children(id: Digest): ImageRecord[] {
    return this.list().filter((r) => r.parent === id);
  }

  allRefs(): Array<{ ref: Reference; id: Digest }> {
    const names = new Set<string>(this.base.refs.keys());
    for (const k of this.changes.keys()) if (k.startsWith(REF_PREFIX)) names.add(k.slice(REF_PREFIX.length));
    const out: Array<{ ref: Reference; id: Digest }> = [];
    for (const name of names) {
      const id = this.refTarget(name);
      if (id !== undefined) out.push({ ref: parseNormalizedNamed(name), id });
    }
    return out;
  }

  protected idsWithPrefix(hexPrefix: string): Digest[] {
    return this.list()
      .map((r) => r.id)
      .filter((id) => id.slice('sha256:'.length).startsWith(hexPrefix));
  }

  putImage(record: NewImageRecord): void {
    this.changes.set(IMAGE_PREFIX + record.id, { ...record, schemaVersion: IMAGE_SCHEMA_VERSION });
  }

  /** Deletes the image and every ref to it. */
  deleteImage(id: Digest): void {
    for (const name of this.refKeysOf(id)) this.changes.set(REF_PREFIX + name, undefined);
    this.changes.set(IMAGE_PREFIX + id, undefined);
  }

  /** Points a ref at an image; returns the image it pointed at before, if another. */
  setRef(ref: Reference, id: Digest): Digest | undefined {
    const record = this.get(id);
    if (!record) throw notFound(`No such image: ${id}`);
    const key = refKey(ref);
    const previous = this.refTarget(key);
    this.changes.set(REF_PREFIX + key, id);
    if (ref.digest === undefined) this.changes.set(IMAGE_PREFIX + id, { ...record, lastTagTime: new Date().toISOString() });
    return previous !== id ? previous : undefined;
  }

  /** Removes a ref; returns the image it pointed at. */
  removeRef(ref: Reference): Digest | undefined {
    const key = refKey(ref);
    const previous = this.refTarget(key);
    this.changes.set(REF_PREFIX + key, undefined);
    return previous;
  }

  /** The batch to append: only keys whose value differs from the base. */
  ops(): JournalOp[] {
    const ops: JournalOp[] = [];
    for (const [key, value] of this.changes) {
      if (value === undefined) {
        const exists = key.startsWith(IMAGE_PREFIX) ? this.base.images.has(key.slice(IMAGE_PREFIX.length) as Digest) : this.base.refs.has(key.slice(REF_PREFIX.length));
        if (exists) ops.push(['d', key]);
      } else ops.push(['p', key, value]);
    }
    return ops;
  }
}

export class ImageMetadataStore extends ImageIndexView {
  private readonly file: string;
  private readonly legacyFile: string;
  private readonly mutex = new Mutex();
  private indexes = new ImageIndexes();
  private journal: Journal | undefined;
  /** Sorted hex IDs for prefix lookups, rebuilt lazily after a change. */
  private sortedHex: string[] | undefined;
  /** Bumped by every update: views computed from the records can be cached per generation. */
  generation = 0;

  constructor(
    root: string,
    private readonly options: ImageMetadataOptions = {},
  ) {
    super();
    this.file = path.join(root, 'metadata', 'images.journal');
    this.legacyFile = path.join(root, 'metadata', 'images.json');
  }

  /**
   * Opens the journal. The first start after an upgrade migrates `images.json` (the
   * one-file layout) into it and renames the old file to `images.json.migrated`.
   * Version 1 records get their `references` from their blobs (`readReferences`) and are
   * rewritten as version 2, in atomic batches (a crash mid-way resumes at the next start).
   * A journal or record of an unknown schema version stops the start with an error naming it.
   */
  async init(): Promise<{ migrated: number; unreadable: number }> {
    let migrated = false;
    const { durable, minDeadLines } = this.options;
    const journal = await Journal.open(this.file, { kind: 'images', schemaVersion: IMAGES_JOURNAL_VERSION, durable, minDeadLines }, async () => {
      const legacy = await readLegacy(this.legacyFile);
      migrated = legacy !== undefined;
      return legacy;
    });
    if (migrated) await fs.rename(this.legacyFile, `${this.legacyFile}.migrated`);
    const indexes = new ImageIndexes();
    const old: ImageRecord[] = [];
    for (const [key, value] of journal.records) {
      if (key.startsWith(IMAGE_PREFIX) && checkRecordVersion(value, this.file) !== IMAGE_SCHEMA_VERSION) old.push(value as ImageRecord);
      indexes.apply(['p', key, value]);
    }
    this.journal = journal;
    this.indexes = indexes;
    this.sortedHex = undefined;
    return this.migrate(old);
  }

  /** Rewrites version 1 records as version 2 with their references; an unreadable one stays as it is. */
  private async migrate(old: ImageRecord[]): Promise<{ migrated: number; unreadable: number }> {
    if (old.length === 0) return { migrated: 0, unreadable: 0 };
    const read = this.options.readReferences;
    if (!read) throw failedPrecondition(`metadata store ${this.file} holds image records of schema version ${old[0].schemaVersion} that need a migration; refusing to open it without the content store`);
    let migrated = 0;
    let unreadable = 0;
    for (let start = 0; start < old.length; start += MIGRATION_BATCH) {
      const batch: NewImageRecord[] = [];
      for (const record of old.slice(start, start + MIGRATION_BATCH)) {
        try {
          batch.push({ ...record, schemaVersion: IMAGE_SCHEMA_VERSION, references: await read(record.target) });
        } catch {
          unreadable++;
        }
      }
      await this.update((tx) => {
        for (const record of batch) tx.putImage(record);
      });
      migrated += batch.length;
    }
    return { migrated, unreadable };
  }

  async close(): Promise<void> {
    await this.journal?.close();
  }

  get(id: Digest): ImageRecord | undefined {
    return this.indexes.images.get(id);
  }

  list(): ImageRecord[] {
    return [...this.indexes.images.values()];
  }

  count(): number {
    return this.indexes.images.size;
  }

  protected refTarget(key: string): Digest | undefined {
    return this.indexes.refs.get(key);
  }

  protected refKeysOf(id: Digest): string[] {
    return [...(this.indexes.refsByImage.get(id) ?? [])];
  }

  override refsOf(id: Digest): readonly Reference[] {
    let refs = this.indexes.refsView.get(id);
    if (!refs) {
      refs = Object.freeze(super.refsOf(id));
      this.indexes.refsView.set(id, refs);
    }
    return refs;
  }

  children(id: Digest): ImageRecord[] {
    return [...(this.indexes.childrenByParent.get(id) ?? [])].map((c) => this.indexes.images.get(c)).filter((r): r is ImageRecord => r !== undefined);
  }

  allRefs(): Array<{ ref: Reference; id: Digest }> {
    return [...this.indexes.refs].map(([key, id]) => ({ ref: parseNormalizedNamed(key), id }));
  }

  protected idsWithPrefix(hexPrefix: string): Digest[] {
    if (!this.sortedHex) this.sortedHex = [...this.indexes.images.keys()].map((id) => id.slice('sha256:'.length)).sort();
    const hex = this.sortedHex;
    let lo = 0;
    let hi = hex.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hex[mid] < hexPrefix) lo = mid + 1;
      else hi = mid;
    }
    const out: Digest[] = [];
    for (let i = lo; i < hex.length && hex[i].startsWith(hexPrefix); i++) out.push(`sha256:${hex[i]}` as Digest);
    return out;
  }

  /**
   * Applies `fn` to a transaction and appends its changes as one journal batch; the
   * in-memory state changes only once the batch is durably written. Updates are serialized.
   */
  update<T>(fn: (tx: ImageMetadataTx) => T): Promise<T> {
    return this.mutex.run(async () => {
      if (!this.journal) throw failedPrecondition('image metadata store is not open');
      const tx = new ImageMetadataTx(this.indexes);
      const result = fn(tx);
      const ops = tx.ops();
      await this.journal.append(ops);
      for (const op of ops) this.indexes.apply(op);
      if (ops.length > 0) this.generation++;
      if (ops.some((op) => op[1].startsWith(IMAGE_PREFIX))) this.sortedHex = undefined;
      return result;
    });
  }

  putImage(record: NewImageRecord): Promise<void> {
    return this.update((tx) => tx.putImage(record));
  }

  deleteImage(id: Digest): Promise<void> {
    return this.update((tx) => tx.deleteImage(id));
  }

  setRef(ref: Reference, id: Digest): Promise<Digest | undefined> {
    return this.update((tx) => tx.setRef(ref, id));
  }

  removeRef(ref: Reference): Promise<Digest | undefined> {
    return this.update((tx) => tx.removeRef(ref));
  }
}

/** The record's schema version, when this berth knows it (current or migratable); throws otherwise. */
function checkRecordVersion(value: unknown, file: string): number {
  const version = (value as { schemaVersion?: unknown }).schemaVersion;
  if (version !== IMAGE_SCHEMA_VERSION && !MIGRATABLE_SCHEMA_VERSIONS.includes(version as number)) {
    throw failedPrecondition(`metadata store ${file} holds an image record of schema version ${String(version)}, which this berth does not know (it knows ${[...MIGRATABLE_SCHEMA_VERSIONS, IMAGE_SCHEMA_VERSION].join(', ')}); refusing to start`);
  }
  return version as number;
}

/** The records of the pre-journal images.json, stamped with schema version 1; undefined when absent. */
async function readLegacy(file: string): Promise<Map<string, unknown> | undefined> {
  const state = await readJsonIfExists<{ version?: unknown; images?: Record<string, Omit<ImageRecord, 'schemaVersion'>>; refs?: Record<string, Digest> }>(file);
  if (state === undefined) return undefined;
  if (state.version !== LEGACY_FILE_VERSION) {
    throw failedPrecondition(`image metadata ${file} has version ${String(state.version)}, which this berth does not know (it knows ${LEGACY_FILE_VERSION}); refusing to start`);
  }
  const records = new Map<string, unknown>();
  for (const [id, record] of Object.entries(state.images ?? {})) records.set(IMAGE_PREFIX + id, { ...record, schemaVersion: 1 });
  for (const [key, id] of Object.entries(state.refs ?? {})) records.set(REF_PREFIX + key, id);
  return records;
}
