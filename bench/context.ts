import type { BerthTarget } from './lib/berth-target';
import type { DockerTarget } from './lib/docker-target';
import type { PodmanTarget } from './lib/podman-target';

/** What every benchmark receives: the targets that are up, and the sample sizes. */
export interface BenchContext {
  berth: BerthTarget;
  docker?: DockerTarget;
  podman?: PodmanTarget;
  /** The docker CLI pointed at berth, when a docker client is installed. */
  dockerCliOnBerth?: (args: string[]) => Promise<void>;
  runs: number;
  warmups: number;
  detachedRounds: number;
}
