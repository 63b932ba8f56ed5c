import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { ByteSource, lazyReadable } from '../../util/lazy-readable';
import type { ContentStore } from '../../content/types';
import { Digest, hexOf } from '../../util/digest';
import type { Descriptor, ImageManifest } from '../../images/models';
import { ANNOTATION_CONTAINERD_IMAGE_NAME, ANNOTATION_REF_NAME } from '../../images/models';
import { MediaTypes } from '../../images/media-types';
import { Reference, familiarString, referenceString } from '../../images/reference';

/**
 * Writes `docker save` archives in the layout Docker 25+ writes: an OCI image layout
 * (oci-layout, index.json, blobs/sha256/...) plus the legacy manifest.json, whose
 * Config/Layers paths point into blobs/. Docker 20.10's `docker load` reads manifest.json
 * (any path, layers compressed or not), containerd and Docker 25 read index.json.
 */
export interface ArchiveImage {
  /** Manifest descriptor and its parsed body. */
  manifest: Descriptor;
  body: ImageManifest;
  /** Tags to record (name:tag refs); empty for an image saved by ID. */
  tags: Reference[];
  /** name@digest refs naming this manifest (RepoDigests), recorded in index.json. */
  digestRefs?: Reference[];
}

/** Fixed mtime: the archive depends only on its content. */
const MTIME = new Date(0);

export function writeArchive(images: readonly ArchiveImage[], content: ContentStore): Readable {
  return lazyReadable(() => packArchive(images, content) as unknown as ByteSource);
}

function packArchive(images: readonly ArchiveImage[], content: ContentStore): tarStream.Pack {
  const pack = tarStream.pack();
  const produce = async () => {
    const written = new Set<Digest>();
    const addFile = (name: string, data: Buffer) =>
      new Promise<void>((resolve, reject) => {
        pack.entry({ name, size: data.length, mode: 0o644, mtime: MTIME }, data, (err) => (err ? reject(err) : resolve()));
      });
    const addDir = (name: string) =>
      new Promise<void>((resolve, reject) => {
        pack.entry({ name, type: 'directory', mode: 0o755, mtime: MTIME }, (err) => (err ? reject(err) : resolve()));
      });
    const addBlob = async (d: Descriptor) => {
      if (written.has(d.digest)) return;
      written.add(d.digest);
      const info = await content.info(d.digest);
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry({ name: `blobs/sha256/${hexOf(d.digest)}`, size: info.size, mode: 0o644, mtime: MTIME }, (err) =>
          err ? reject(err) : resolve(),
        );
        const source = content.createReadStream(d.digest, { verify: true });
        // Without a listener, the error pipe() forwards to the entry would crash the daemon.
        sink.on('error', reject);
        source.on('error', (err) => {
          sink.destroy(err);
          reject(err);
        });
        // If the archive is abandoned (client went away), stop reading the blob.
        sink.on('close', () => source.destroy());
        source.pipe(sink as unknown as NodeJS.WritableStream);
      });
    };

    await addDir('blobs/');
    await addDir('blobs/sha256/');
    const index: Descriptor[] = [];
    const manifestJson: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    for (const image of images) {
      await addBlob(image.manifest);
      await addBlob(image.body.config);
      for (const layer of image.body.layers) await addBlob(layer);
      const base = { mediaType: image.manifest.mediaType, digest: image.manifest.digest, size: image.manifest.size };
      if (image.tags.length === 0) index.push(base);
      for (const ref of image.digestRefs ?? []) {
        if (ref.digest === image.manifest.digest) index.push({ ...base, annotations: { [ANNOTATION_CONTAINERD_IMAGE_NAME]: referenceString(ref) } });
      }
      for (const tag of image.tags) {
        index.push({
          ...base,
          annotations: { [ANNOTATION_CONTAINERD_IMAGE_NAME]: referenceString(tag), [ANNOTATION_REF_NAME]: tag.tag ?? 'latest' },
        });
      }
      manifestJson.push({
        Config: `blobs/sha256/${hexOf(image.body.config.digest)}`,
        RepoTags: image.tags.length > 0 ? image.tags.map(familiarString) : null,
        Layers: image.body.layers.map((l) => `blobs/sha256/${hexOf(l.digest)}`),
      });
    }
    await addFile('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: index })));
    await addFile('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    await addFile('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    pack.finalize();
  };
  produce().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return pack;
}
