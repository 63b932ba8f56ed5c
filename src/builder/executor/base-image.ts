import type { ImageService } from '../../engine/images/image-service';
import type { ResolvedImage } from '../../engine/images/types';
import { PullProgress } from '../../engine/images/pull/pull-progress';
import { parseNormalizedNamed, withDefaultTag } from '../../images/reference';
import { HOST_PLATFORM, type ImageConfig } from '../../images/models';
import { isNotFound, notFound } from '../../errors';
import type { PullPolicy } from '../types';
import { makeState, type BuildState } from './build-state';

/** FROM scratch: no layers, no config but what moby gives every stage (the default PATH comes with the first step). */
export function scratchState(): BuildState {
  const config: ImageConfig = { architecture: HOST_PLATFORM.architecture, os: HOST_PLATFORM.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  return makeState(config, [], null);
}

/**
 * FROM <image> (and COPY --from=<image>): the image by the pull policy — 'always' pulls,
 * 'missing' pulls only when it is not here, 'never' never does — then unpacked. Pull
 * status lines go to `onStatus` (docker build shows them under the step).
 */
export async function resolveBaseImage(images: ImageService, name: string, pull: PullPolicy, signal: AbortSignal, onStatus: (line: string) => void): Promise<ResolvedImage> {
  let image = pull === 'always' ? undefined : await images.find(name);
  if (!image) {
    if (pull === 'never') throw notFound(`No such image: ${name}`);
    const ref = withDefaultTag(parseNormalizedNamed(name));
    const progress = new PullProgress((m) => {
      if (m.status !== undefined && m.progressDetail === undefined && m.progress === undefined) onStatus(m.id ? `${m.id}: ${m.status}` : m.status);
    });
    try {
      await images.pull(ref, false, { signal, progress });
    } catch (err) {
      // A name that is an image ID prefix or a local name the registry does not know keeps the local answer.
      if (pull === 'always' && (image = await images.find(name))) return image;
      throw err;
    }
    image = await images.resolve(name).catch((err: unknown) => {
      if (isNotFound(err)) throw notFound(`No such image: ${name}`);
      throw err;
    });
  }
  await images.ensureUnpacked(image);
  return image;
}

/** A build state that is the image itself (its config byte for byte: the same ID). */
export function imageState(image: ResolvedImage): BuildState {
  const state = makeState(image.config, image.manifest.layers, image.chainId);
  // The config as parsed re-encodes to other bytes than the stored blob: keep the image's own ID.
  return { ...state, id: image.id, configSize: image.manifest.config.size };
}
