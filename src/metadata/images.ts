import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Digest } from '../util/digest';
import { readJsonIfExists, removeStaleTempFiles, writeJsonAtomic } from '../util/atomic-fs';
import { Mutex } from '../util/mutex';
import { invalidArgument, notFound } from '../errors';
import type { Descriptor } from '../images/models';
import { Reference, parseAnyReference, parseNormalizedNamed, referenceString, withDefaultTag, fullName } from '../images/reference';

/**
 * The image/ref store: which images exist and which names point at them. An image's ID is
 * its config digest; its record names the manifest (the target) whose blobs live in the
 * content store. Refs map a normalized "name:tag" or "name@digest" to an image ID.
 * The whole state is one JSON file replaced with writeJsonAtomic, so every change (a load
 * registering several images and tags at once) is all-or-nothing across a crash.
 */
export interface ImageRecord {
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
}

interface State {
  version: 1;
  images: Record<string, ImageRecord>;
  /** normalized reference string → image ID */
  refs: Record<string, Digest>;
}

const emptyState = (): State => ({ version: 1, images: {}, refs: {} });

/** Read access to one consistent state; shared by the store and its transactions. */
class ImageIndexView {
  constructor(protected state: State) {}

  get(id: Digest): ImageRecord | undefined {
    return this.state.images[id];
  }

  list(): ImageRecord[] {
    return Object.values(this.state.images);
  }

  /** Refs pointing at `id`, sorted (tags and digests). */
  refsOf(id: Digest): Reference[] {
    return Object.entries(this.state.refs)
      .filter(([, target]) => target === id)
      .map(([key]) => parseNormalizedNamed(key))
      .sort((a, b) => referenceString(a).localeCompare(referenceString(b)));
  }

  /** The image a reference (with tag or digest) points at. */
  lookupRef(ref: Reference): Digest | undefined {
    return this.state.refs[refKey(ref)];
  }

  allRefs(): Array<{ ref: Reference; id: Digest }> {
    return Object.entries(this.state.refs).map(([key, id]) => ({ ref: parseNormalizedNamed(key), id }));
  }

  children(id: Digest): ImageRecord[] {
    return this.list().filter((r) => r.parent === id);
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
      const matches = this.list().filter((r) => r.id.slice('sha256:'.length).startsWith(prefix));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidArgument(`ambiguous image ID prefix "${input}": it matches ${matches.length} images`);
    }
    if (any === undefined) parseAnyReference(input); // rethrows the reference error
    throw notFound(`No such image: ${input}`);
  }
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

/** A batch of changes applied atomically by ImageMetadataStore.update. */
export class ImageMetadataTx extends ImageIndexView {
  putImage(record: ImageRecord): void {
    this.state.images[record.id] = record;
  }

  /** Deletes the image and every ref to it. */
  deleteImage(id: Digest): void {
    delete this.state.images[id];
    for (const [key, target] of Object.entries(this.state.refs)) if (target === id) delete this.state.refs[key];
  }

  /** Points a ref at an image; returns the image it pointed at before, if another. */
  setRef(ref: Reference, id: Digest): Digest | undefined {
    if (!this.state.images[id]) throw notFound(`No such image: ${id}`);
    const key = refKey(ref);
    const previous = this.state.refs[key];
    this.state.refs[key] = id;
    if (ref.digest === undefined) this.state.images[id] = { ...this.state.images[id], lastTagTime: new Date().toISOString() };
    return previous !== id ? previous : undefined;
  }

  /** Removes a ref; returns the image it pointed at. */
  removeRef(ref: Reference): Digest | undefined {
    const key = refKey(ref);
    const previous = this.state.refs[key];
    delete this.state.refs[key];
    return previous;
  }
}

export class ImageMetadataStore extends ImageIndexView {
  private readonly file: string;
  private readonly mutex = new Mutex();

  constructor(root: string) {
    super(emptyState());
    this.file = path.join(root, 'metadata', 'images.json');
  }

  async init(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await removeStaleTempFiles(path.dirname(this.file));
    const loaded = await readJsonIfExists<State>(this.file);
    this.state = loaded && loaded.version === 1 ? loaded : emptyState();
  }

  /**
   * Applies `fn` to a copy of the state and persists it; the in-memory state changes only
   * once the file is durably replaced. Updates are serialized.
   */
  update<T>(fn: (tx: ImageMetadataTx) => T): Promise<T> {
    return this.mutex.run(async () => {
      const draft = structuredClone(this.state);
      const result = fn(new ImageMetadataTx(draft));
      await writeJsonAtomic(this.file, draft);
      this.state = draft;
      return result;
    });
  }

  putImage(record: ImageRecord): Promise<void> {
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
