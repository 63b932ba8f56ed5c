import { Digest, chainIds } from '../../util/digest';
import { errorKind, internal, notFound } from '../../errors';
import type { ImageStores } from './resolver';
import type { ResolvedImage } from './types';

/**
 * Makes sure every layer blob of `image` is in the content store. A layer committed from a
 * container (or a build step) has no blob until one is needed (save, push): its tar is made
 * again from the layer, deterministically, and must hash to the diff ID recorded at commit;
 * the content store checks digest and size while it writes the blob.
 */
export async function ensureLayerBlobs(stores: Pick<ImageStores, 'content' | 'layers'>, image: ResolvedImage): Promise<void> {
  const { content, layers } = stores;
  const chains = chainIds(image.diffIds);
  for (const [i, layer] of image.manifest.layers.entries()) {
    if (await content.has(layer.digest)) continue;
    const chain: Digest | undefined = chains[i];
    if (layer.digest !== image.diffIds[i] || chain === undefined || !(await layers.get(chain))) {
      throw notFound(`blob ${layer.digest} not found`);
    }
    try {
      await content.ingest(await layers.layerTar(chain), { digest: layer.digest, size: layer.size });
    } catch (err) {
      if (errorKind(err) !== 'InvalidArgument') throw err;
      throw internal(`layer ${chain} no longer makes the tar its image recorded (${layer.digest}): ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }
}
