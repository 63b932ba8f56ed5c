import type { ContainerService } from '../../engine/containers/container-service';
import type { ImageService } from '../../engine/images/image-service';
import type { LeasedWrite } from '../../engine/images/creation';
import type { ContainerSnapshots, LocalSnapshotter } from '../../snapshots/types';
import type { SnapshotUnpacker } from '../../snapshots/unpacker';
import type { Logger } from '../../util/logger';
import type { Digest } from '../../util/digest';
import type { DockerfilePlan } from '../dockerfile/instructions';
import type { BuildEvent, BuildRequest } from '../types';
import type { BuildState } from './build-state';
import type { BuildStateLookup } from './build-state-lookup';
import type { BuildCache } from './build-cache';
import type { LocalChecksumOptions } from './source-checksum';
import type { CacheFromSources } from './cache-from';

/** What the executor uses of the daemon: the image and container services and the snapshot stores. */
export interface ExecutorDeps {
  images: ImageService;
  containers: ContainerService;
  /** Containers' snapshots: a RUN container's commit, read-only views for COPY --from. */
  rootfs: ContainerSnapshots;
  snapshotter: LocalSnapshotter;
  layers: SnapshotUnpacker;
  /** The container service's image lookup, which must be this one (RUN containers on build states). */
  lookup: BuildStateLookup;
  /** `<data-root>/builder`: step mounts and scratch files (root only). */
  workRoot: string;
  logger: Logger;
  /** The step cache (absent: every step runs, nothing is recorded). */
  cache?: BuildCache;
}

/** One build in flight, shared by its stages. */
export interface BuildContext {
  deps: ExecutorDeps;
  request: BuildRequest;
  plan: DockerfilePlan;
  /** The build's lease. */
  w: LeasedWrite;
  /** Aborted by the client or by the first failing stage. */
  signal: AbortSignal;
  /** O_PATH fd of the context folder. */
  contextFd: number;
  /** Set for a local context (the user's folder, read in place): its filter and the digest cache. */
  local?: LocalChecksumOptions;
  /** Global ARGs and their values. */
  globals: ReadonlyMap<string, string | undefined>;
  /** Build args some stage declared. */
  consumed: Set<string>;
  emit(event: BuildEvent): void;
  /** The final state of an earlier stage (FROM <stage>, COPY --from=<stage>). */
  stageResult(index: number): Promise<BuildState>;
  /** "Step N/M" numbering: N for a stage's instruction (-1: FROM), M for the whole build. */
  stepNumber(stageIndex: number, instructionIndex: number): { index: number; total: number };
  /** A layer this build committed: collected when the build ends unless something references it. */
  track(chainId: Digest): void;
  /** `--cache-from` images (absent without any, or with --no-cache). */
  cacheFrom?: CacheFromSources;
  /** Runs `release` when the build ends, whatever the outcome. */
  onEnd(release: () => void): void;
}
