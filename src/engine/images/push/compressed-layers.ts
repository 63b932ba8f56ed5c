import { LABEL_GC_REF_CONTENT_PREFIX, type ContentStore } from '../../../content/types';
import { hexOf, isDigest, type Digest } from '../../../util/digest';

/**
 * The gzip blobs a push made of an image's uncompressed layers are kept, so the next push
 * sends (or HEADs) the same bytes instead of compressing again, as dockerd's v2 metadata
 * remembers a layer's pushed digest. The image's config blob names each one in a GC
 * reference label keyed by the layer's diff ID: the blob lives as long as the image.
 */
const KEPT_PREFIX = `${LABEL_GC_REF_CONTENT_PREFIX}berth.gzip.`;

/** The kept gzip blob of `diffId`, if one was made and is still there. */
export async function keptCompressed(content: ContentStore, configDigest: Digest, diffId: Digest): Promise<{ digest: Digest; size: number } | undefined> {
  const labels = (await content.info(configDigest)).labels;
  const digest = labels[`${KEPT_PREFIX}${hexOf(diffId)}`];
  if (digest === undefined || !isDigest(digest)) return undefined;
  try {
    return { digest, size: (await content.info(digest)).size };
  } catch {
    return undefined;
  }
}

/** Records `compressed` as the gzip form of `diffId` (the blob must be protected by the caller's lease until then). */
export async function keepCompressed(content: ContentStore, configDigest: Digest, diffId: Digest, compressed: Digest): Promise<void> {
  const key = `${KEPT_PREFIX}${hexOf(diffId)}`;
  await content.update(configDigest, { [key]: compressed }, [`labels.${key}`]);
}
