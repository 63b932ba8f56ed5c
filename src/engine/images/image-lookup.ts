import type { ImageForContainer, ImageLookup } from '../containers/ports';
import type { ImageService } from './image-service';
import type { Digest } from '../../util/digest';

/** The image service as the container service sees it: resolve, then unpack. */
export class ImageLookupAdapter implements ImageLookup {
  constructor(private readonly images: ImageService) {}

  async resolve(ref: string): Promise<ImageForContainer> {
    const image = await this.images.resolve(ref);
    return { id: image.id, config: image.runConfig, chainId: image.chainId };
  }

  holding<T>(fn: () => Promise<T>): Promise<T> {
    return this.images.holding(fn);
  }

  async ensureUnpacked(image: ImageForContainer): Promise<Digest | null> {
    return this.images.ensureUnpacked(await this.images.resolve(image.id as Digest));
  }
}
