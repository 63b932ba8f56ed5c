import type { Readable } from 'node:stream';
import type { Digest } from '../../util/digest';

/** A base image's single layer and its config, as bootstrap builds them. */
export interface BaseImageLayer {
  /** The layer as an uncompressed tar. */
  diffTar: Readable;
  config: { Env: string[]; Cmd: string[] };
  /** RFC 3339; a fixed value makes the image ID reproducible. */
  created?: string;
  createdBy: string;
  repo: string;
  tag: string;
}

/**
 * Where a bootstrapped image goes: the image service's commitLayer, seen from here so this
 * package stays below the engine (the engine calls bootstrap, not the other way round).
 */
export interface BaseImageSink {
  commitLayer(layer: BaseImageLayer): Promise<Digest>;
}
