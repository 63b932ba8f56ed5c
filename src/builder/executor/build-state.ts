import type { Descriptor, DockerContainerConfig, HistoryEntry, ImageConfig, ImageRunConfig } from '../../images/models';
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

/** What dockerd 20.10's classic builder commits of a step's container: its config, and its ID when the step ran one (RUN). */
export interface StepContainer {
  config: DockerContainerConfig;
  id?: string;
}

/** How dockerd commits a step: a container from its config (`comment`), a RUN container, a layer without container (`copy`). */
export type StepKind = 'comment' | 'copy' | 'run';

/**
 * A step's `container_config` as dockerd 20.10's classic builder commits it: the run config
 * with the step's command in Cmd (the `#(nop)` comment after the shell, or RUN's command with
 * its `|N` build args), the parent's image ID, and every field of Go's container.Config in
 * its order, empty ones as Go writes them. RUN's has no Entrypoint (moby's cache probe
 * config). Config-only steps and WORKDIR (`comment`): dockerd created a container from it,
 * which set Labels `{}` when unset and Hostname to its ID; berth runs none there, so their
 * Hostname stays empty. COPY/ADD (`copy`): dockerd exports a layer with no container.
 */
export function stepContainerConfig(rc: ImageRunConfig, cmd: string[], parentId: string, kind: StepKind): DockerContainerConfig {
  const config = {
    Hostname: '',
    Domainname: '',
    User: rc.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(rc.ExposedPorts && Object.keys(rc.ExposedPorts).length > 0 ? { ExposedPorts: rc.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: rc.Env ?? null,
    Cmd: cmd,
    ...(rc.Healthcheck ? { Healthcheck: rc.Healthcheck } : {}),
    ...(rc.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: parentId,
    Volumes: rc.Volumes ?? null,
    WorkingDir: rc.WorkingDir ?? '',
    Entrypoint: kind === 'run' ? null : (rc.Entrypoint ?? null),
    OnBuild: rc.OnBuild ?? null,
    Labels: rc.Labels ?? (kind === 'comment' ? {} : null),
    ...(rc.StopSignal ? { StopSignal: rc.StopSignal } : {}),
    ...(rc.Shell && rc.Shell.length > 0 ? { Shell: rc.Shell } : {}),
  };
  return config as unknown as DockerContainerConfig;
}

/**
 * A child's config as moby's NewChildImage makes it: the platform of its parent, the author
 * of this stage's MAINTAINER, the step's run config, diff IDs and history, and the step's
 * container (container, container_config) as dockerd's commit writes them; the parent's
 * Docker extras (container, container_config, comment) are not carried over. Keys in a
 * fixed order (dockerd's: sorted), so equal steps give equal bytes (a stable ID).
 */
function childConfig(state: BuildState, runConfig: ImageRunConfig, history: HistoryEntry[], diffIds: Digest[], author: string | undefined, step: StepContainer | undefined): ImageConfig {
  const parent = state.config;
  const created = history[history.length - 1]?.created;
  return {
    architecture: parent.architecture,
    ...(author ? { author } : {}),
    config: runConfig,
    ...(step?.id ? { container: step.id } : {}),
    ...(step ? { container_config: step.config } : {}),
    ...(created ? { created } : {}),
    history,
    os: parent.os,
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(parent.variant ? { variant: parent.variant } : {}),
  };
}

/** A step that changed only the config: a history entry marked empty_layer, as moby's commit of a `#(nop)`. */
export function withConfig(state: BuildState, runConfig: ImageRunConfig, history: HistoryEntry, author?: string, step?: StepContainer): BuildState {
  const config = childConfig(state, runConfig, [...(state.config.history ?? []), { ...history, empty_layer: true }], state.config.rootfs.diff_ids, author, step);
  return makeState(config, state.layers, state.chainId);
}

/** A step that added a layer (RUN, COPY, ADD, WORKDIR creating its dir). */
export function withLayer(state: BuildState, runConfig: ImageRunConfig, history: HistoryEntry, layer: { chainId: Digest; diffId: Digest; tarSize: number }, author?: string, step?: StepContainer): BuildState {
  // As moby's NewChildImage: a step that changed no file adds no layer, only an empty_layer entry.
  if (layer.diffId === EMPTY_TAR_DIFF_ID) return withConfig(state, runConfig, history, author, step);
  const config = childConfig(state, runConfig, [...(state.config.history ?? []), history], [...state.config.rootfs.diff_ids, layer.diffId], author, step);
  const descriptor: Descriptor = { mediaType: MediaTypes.ociLayer, digest: layer.diffId, size: layer.tarSize };
  return makeState(config, [...state.layers, descriptor], layer.chainId);
}

/** The diff ID of a tar with no entries (1024 zero bytes), moby's layer.DigestSHA256EmptyTar. */
export const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' as Digest;
