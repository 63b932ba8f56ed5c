import type { Readable } from 'node:stream';
import type { Digest } from '../../util/digest';
import { invalidArgument } from '../../errors';
import { Reference, familiarString, fullName, parseAnyReference, withDefaultTag } from '../../images/reference';
import { readArchive } from '../../archive/image/read-archive';
import { planLoad } from '../../archive/image/load-plan';
import { ArchiveImage, writeArchive } from '../../archive/image/write-archive';
import type { ImageCreation, NewImage } from './creation';
import { ensureLayerBlobs } from './layer-blobs';
import type { ImageResolver, ImageStores } from './resolver';
import type { LoadResult, ResolvedImage } from './types';

/** Archives: `docker save` and `docker load` (docker-archive and OCI layout). */
export class ImageArchives {
  constructor(
    private readonly stores: ImageStores,
    private readonly resolver: ImageResolver,
    private readonly creation: ImageCreation,
  ) {}

  /**
   * `docker save`: resolves every name first (NotFound before any byte is sent), then
   * streams an archive holding both an OCI layout and Docker's manifest.json. A bare
   * repository name saves all of its tags, as Docker does.
   */
  async save(names: readonly string[]): Promise<Readable> {
    const { metadata, content } = this.stores;
    const byId = new Map<Digest, { image: ResolvedImage; tags: Reference[] }>();
    const add = (image: ResolvedImage, tag?: Reference) => {
      const entry = byId.get(image.id) ?? { image, tags: [] };
      if (tag && !entry.tags.some((t) => familiarString(t) === familiarString(tag))) entry.tags.push(tag);
      byId.set(image.id, entry);
    };
    for (const name of names) {
      const any = safeParseAny(name);
      if (any?.kind === 'named' && any.ref.tag === undefined && any.ref.digest === undefined) {
        const tagged = metadata.allRefs().filter((r) => r.ref.tag !== undefined && r.ref.digest === undefined && fullName(r.ref) === fullName(any.ref));
        if (tagged.length > 0) {
          for (const r of tagged) add(await this.resolver.resolve(r.id), r.ref);
          continue;
        }
      }
      const image = await this.resolver.resolve(name);
      if (any?.kind === 'named' && metadata.lookupRef(any.ref) === image.id) {
        add(image, any.ref.digest === undefined ? withDefaultTag(any.ref) : undefined);
      } else add(image);
    }
    // Layers committed from containers get their blobs now, before the first byte is sent.
    for (const { image } of byId.values()) await ensureLayerBlobs(this.stores, image);
    const images: ArchiveImage[] = [...byId.values()].map(({ image, tags }) => ({
      manifest: image.record.target,
      body: image.manifest,
      tags,
      digestRefs: metadata.refsOf(image.id).filter((r) => r.digest === image.record.target.digest),
    }));
    return writeArchive(images, content);
  }

  /**
   * `docker load`: reads a docker-archive (manifest.json; Docker 20.10's `<id>/layer.tar`
   * form or Docker 25's blobs/) or an OCI layout archive (index.json). All or nothing:
   * every blob and every layer diff ID is checked before any image or tag is registered,
   * and a failure deletes the blobs and layers this load added.
   */
  async load(tar: Readable, _opts: { quiet?: boolean } = {}): Promise<LoadResult> {
    return this.creation.leased('load', async (w) => {
      const archive = await readArchive(tar, w.content);
      for (const d of archive.newBlobs) w.newBlobs.add(d);
      const planned = await planLoad(archive.files, { content: w.content, newBlobs: w.newBlobs });
      if (planned.length === 0) throw invalidArgument('invalid archive: no manifest.json or index.json with images found');
      const images: NewImage[] = planned.map((p) => ({
        config: p.config,
        configBlob: p.configBlob,
        layers: p.layers,
        ...(p.manifest ? { manifest: p.manifest } : {}),
        ...(p.parent ? { parent: p.parent } : {}),
      }));
      for (const image of images) await this.creation.unpackNew(image, w);
      const lines: string[] = [];
      const ids = await this.creation.register(images, w, (tx, ids) => {
        planned.forEach((p, i) => {
          const id = ids[i];
          for (const tag of p.tags) {
            const previous = tx.setRef(tag, id);
            if (previous !== undefined && tx.refsOf(previous).length === 0) {
              lines.push(`The image ${familiarString(tag)} already exists, renaming the old one with ID ${previous} to empty string`);
            }
            lines.push(`Loaded image: ${familiarString(tag)}`);
          }
          for (const ref of p.digestRefs) tx.setRef(ref, id);
          if (p.tags.length === 0 && p.report) lines.push(`Loaded image ID: ${id}`);
        });
      });
      return { loaded: lines, ids };
    });
  }
}

function safeParseAny(s: string): ReturnType<typeof parseAnyReference> | undefined {
  try {
    return parseAnyReference(s);
  } catch {
    return undefined;
  }
}
