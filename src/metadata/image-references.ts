import type { ContentProvider } from '../content/types';
import { chainIds } from '../util/digest';
import { parseImageConfig, parseManifest, type Descriptor, type ImageConfig, type ImageManifest } from '../images/models';
import type { ImageReferences } from './images';

/** What an image with this manifest and config references (kept in its record for the collector). */
export function imageReferences(manifest: ImageManifest, config: ImageConfig): ImageReferences {
  return { config: manifest.config.digest, layers: manifest.layers.map((l) => l.digest), chains: chainIds(config.rootfs.diff_ids) };
}

/** The same, read from the content store (a version 1 record's migration, an image registered again). */
export async function readImageReferences(content: Pick<ContentProvider, 'readBlob'>, target: Descriptor): Promise<ImageReferences> {
  const manifest = parseManifest(await content.readBlob(target.digest), target.mediaType);
  const config = parseImageConfig(await content.readBlob(manifest.config.digest));
  return imageReferences(manifest, config);
}
