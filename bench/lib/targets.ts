/**
 * A daemon (or daemonless engine) under benchmark: berthd, a private dockerd, podman.
 * Every target runs the same busybox image, exported from berth and loaded into the others.
 */
export interface BenchTarget {
  name: 'berth' | 'docker' | 'podman';
  /** The Engine API socket, for targets that serve one (berth, docker). */
  socket?: string;
  /** Runs a CLI command against the target (`docker -H ...`, `berth -H ...`, `podman --root ...`). */
  cli?(args: string[]): Promise<void>;
  /** Pids of the daemon processes whose RSS counts as "the daemon" (dockerd + containerd). */
  daemonPids(): Promise<number[]>;
  /** Pids of the per-container helper processes (berth-monitor, containerd-shim). */
  monitorPids(): Promise<number[]>;
  stop(): Promise<void>;
}

export const DOCKER_CLIENT_ENV = { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_CLI_HINTS: 'false' };
