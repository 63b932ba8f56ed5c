import type { Descriptor, HistoryEntry, ImageConfig, ImageRunConfig } from '../../images/models';
import { encodeJson } from '../../images/models';
import { MediaTypes } from '../../images/media-types';
import { type Digest, digestOf } from '../../util/digest';

/**
 * The image a build has made so far in one stage: its whole config (run config, history,
 * diff IDs), the layer descriptors of its manifest, and its top layer. Its ID is the sha256
 * of the config's bytes, as an image's is, so `step-done` can show it without registering.
 */
export interface BuildState {
  readonly config: ImageConfig;
  readonly layers: readonly Descriptor[];
  readonly chainId: Digest | null;
  readonly id: Digest;
  /** Size of the config blob when the state is an image as stored (its bytes are kept, not encoded again). */
  readonly configSize?: number;
}

export function makeState(config: ImageConfig, layers: readonly Descriptor[], chainId: Digest | null): BuildState {
  return { config, layers, chainId, id: digestOf(encodeJson(config)) };
}

export function runConfigOf(state: BuildState): ImageRunConfig {
  return state.config.config ?? {};
}

/**
 * A child's config as moby's NewChildImage makes it: the platform of its parent, the author
 * of this stage's MAINTAINER, the step's run config, diff IDs and history; the parent's
 * Docker extras (container, container_config, comment) are not carried over. Keys in a
 * fixed order, so equal steps give equal bytes (a stable ID).
 */
function childConfig(state: BuildState, runConfig: ImageRunConfig, history: HistoryEntry[], diffIds: Digest[], author: string | undefined): ImageConfig {
  const parent = state.config;
  const created = history[history.length - 1]?.created;
  return {
    architecture: parent.architecture,
    ...(author ? { author } : {}),
    config: runConfig,
    ...(created ? { created } : {}),
    history,
    os: parent.os,
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(parent.variant ? { variant: parent.variant } : {}),
  };
}

/** A step that changed only the config: a history entry marked empty_layer, as moby's commit of a `#(nop)`. */
export function withConfig(state: BuildState, runConfig: ImageRunConfig, history: HistoryEntry, author?: string): BuildState {
  const config = childConfig(state, runConfig, [...(state.config.history ?? []), { ...history, empty_layer: true }], state.config.rootfs.diff_ids, author);
  return makeState(config, state.layers, state.chainId);
}

/** A step that added a layer (RUN, COPY, ADD, WORKDIR creating its dir). */
export function withLayer(state: BuildState, runConfig: ImageRunConfig, history: HistoryEntry, layer: { chainId: Digest; diffId: Digest; tarSize: number }, author?: string): BuildState {
  // As moby's NewChildImage: a step that changed no file adds no layer, only an empty_layer entry.
  if (layer.diffId === EMPTY_TAR_DIFF_ID) return withConfig(state, runConfig, history, author);
  const config = childConfig(state, runConfig, [...(state.config.history ?? []), history], [...state.config.rootfs.diff_ids, layer.diffId], author);
  const descriptor: Descriptor = { mediaType: MediaTypes.ociLayer, digest: layer.diffId, size: layer.tarSize };
  return makeState(config, [...state.layers, descriptor], layer.chainId);
}

/** The diff ID of a tar with no entries (1024 zero bytes), moby's layer.DigestSHA256EmptyTar. */
export const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' as Digest;
