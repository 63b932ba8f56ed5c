/**
 * The boundary between the Dockerfile executor (src/builder/executor) and its two front ends,
 * `POST /build` and `berth build`. The front ends turn a context (a tar from a client, or a
 * local folder) into a BuildRequest and render the BuildEvents; the executor runs the plan on
 * the snapshotter under a lease and never sees HTTP or a terminal.
 */

import type { ContextTarHeaders } from './executor/copy-history';

/** `--pull`: docker's `pull=1` is 'always'; the default is 'missing'. */
export type PullPolicy = 'always' | 'missing' | 'never';

/**
 * The start of the error a build of a local context fails with when the context cannot be read
 * in place (another mount namespace, a RUN bind mount of it): the client then sends a tar.
 */
export const LOCAL_CONTEXT_REFUSED = 'the build context cannot be read in place';

/** Which paths of a context exist for the build (`rel`: `/`-separated, relative to the context's root). */
export interface ContextPathFilter {
  includes(rel: string): boolean;
}

export interface BuildRequest {
  /**
   * The context: a folder the daemon owns (POST /build's unpacked tar, already confined), or,
   * with `localContext`, the user's own folder on the daemon's host, read in place.
   */
  contextDir: string;
  /**
   * Set when contextDir is the user's folder (berth build with a local daemon), not a copy:
   * what its .dockerignore leaves in, applied on every walk of the context (a symlink leading
   * out of it is refused where a COPY meets it); file digests are then reused across builds
   * while a file's (dev, ino, size, mtime, ctime) stays the same.
   */
  localContext?: ContextPathFilter;
  /** The Dockerfile's path inside contextDir (default `Dockerfile`). */
  dockerfile: string;
  /** The context tar's entry headers (POST /build), for COPY's history as dockerd names sources; absent for a local folder. */
  contextTarHeaders?: ContextTarHeaders;
  /** The Dockerfile's text when it does not come from contextDir (`-f -`, or a remote file). */
  dockerfileText?: string;
  /** Names to tag the final image with (`-t`), already parsed and validated by the front end. */
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: PullPolicy;
  labels: Record<string, string>;
  /** RUN's network: `default` (the default bridge), `host`, `none`, or a network name. */
  networkMode: string;
  /** Images whose history may serve as cache (`--cache-from`). */
  cacheFrom: string[];
  /** `RUN --mount=type=secret,id=X`: id → a file on the daemon's host (berth CLI only). */
  secrets: Record<string, string>;
  /** Keep intermediate containers of failed steps (`rm=false` / not `forcerm`). */
  removeIntermediate: boolean;
  forceRemoveIntermediate: boolean;
  /** Set when the client goes away: the build stops and leaves no image, tag or container. */
  signal: AbortSignal;
}

/** What a build reports as it goes, in order; the front ends render it (docker's JSON stream, or lines). */
export type BuildEvent =
  /** A step starts: `index` of `total`, counted over every stage the build runs, FROM lines included (1-based, as docker prints "Step 3/8 : RUN …"). */
  | { type: 'step'; stage: string; index: number; total: number; instruction: string }
  /** The step's result came from the cache. */
  | { type: 'cached'; stage: string }
  /** A RUN step's container (" ---> Running in <id12>"). */
  | { type: 'container'; stage: string; id: string }
  /** A RUN step's output, as it comes. */
  | { type: 'output'; stage: string; stream: 'stdout' | 'stderr'; data: Buffer }
  /** The step finished; `imageId` is the state after it (sha256:…), as docker prints " ---> <id12>". */
  | { type: 'step-done'; stage: string; imageId: string; cached: boolean; durationMs: number }
  /** A RUN step's container was removed ("Removing intermediate container <id12>"). */
  | { type: 'container-removed'; stage: string; id: string }
  /** A warning to show the user (an unused build arg, an empty continuation line). */
  | { type: 'warning'; message: string }
  /** A stage other than the last one ended with this image (dockerd streams it as an `aux` ID). */
  | { type: 'stage-built'; stage: string; imageId: string }
  /** The final image (sha256:…), then one event per tag applied. */
  | { type: 'built'; imageId: string }
  | { type: 'tagged'; ref: string };

export interface BuildResult {
  imageId: string;
}

/**
 * Runs a build. A failure rejects with an EngineError whose message names the Dockerfile line
 * (and for RUN, the command and its exit code, as docker words it: "The command '/bin/sh -c false'
 * returned a non-zero code: 1"), and leaves no partial image, tag or container behind.
 */
export interface ImageBuilder {
  build(request: BuildRequest, onEvent: (event: BuildEvent) => void): Promise<BuildResult>;
  /** The build cache (`system df`'s Build Cache, `builder prune`); absent for a builder that keeps none. */
  readonly cache?: BuildCacheStore;
}

/** One cached step, as `system df -v` lists it. */
export interface BuildCacheEntry {
  /** The step's cache key (sha256 hex). */
  id: string;
  /** The step's history entry (`/bin/sh -c #(nop) COPY …`, the RUN command). */
  description: string;
  /** Bytes of the step's own layer (0 for a step that changed only the config). */
  size: number;
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  /** Read by a build in flight (prune keeps it). */
  inUse: boolean;
}

export interface BuildCacheStore {
  list(): Promise<BuildCacheEntry[]>;
  /** Removes every entry not in use; their layers go with the next collection unless an image uses them. */
  prune(opts: { all: boolean; filters?: Record<string, string[]> }): Promise<{ deleted: string[]; spaceReclaimed: number }>;
}
