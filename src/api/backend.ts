import type { Readable } from 'node:stream';
import type { AttachSession, LogSession } from '../util/stdio-streams';
import type { Filters, JsonStreamMessage } from './types/common';
import type {
  ContainerChangeResponseItem,
  ContainerConfig,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerPruneResponse,
  ContainerStatsResponse,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateRequest,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  PathStat,
  WaitCondition,
} from './types/containers';
import type { BuildEvent, BuildRequest, BuildResult } from '../builder/types';
import type { ExecConfig, ExecInspect } from './types/exec';
import type { NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkResource, NetworksPruneResponse } from './types/networks';
import type { EventMessage, SystemDfResponse, SystemDfType, SystemInfo, SystemVersion, Volume, VolumesPruneResponse } from './types/system';
import type {
  HistoryResponseItem,
  ImageDeleteResponseItem,
  ImageInspect,
  ImagePruneResponse,
  ImageSummary,
} from './types/images';

/**
 * The narrow backends the API routes call, one per router (moby's pattern), so routes can be
 * tested with fakes and the engine never sees HTTP. Every method throws EngineError kinds
 * (src/errors) with Docker's wording; the server maps them to statuses in one place.
 *
 * Streams: the API layer owns the wire encoding. Backends hand over AttachSession/LogSession
 * (src/util/stdio-streams.ts), object iterables, or byte Readables; the server frames them.
 * `signal` arguments abort when the client goes away or the server shuts down.
 */

// ---------------------------------------------------------------- containers

export interface ContainerListOptions {
  all: boolean;
  /** Most recently created first; undefined means no limit. */
  limit?: number;
  size: boolean;
  filters: Filters;
}

export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional allowed); 0 or undefined means from the start. */
  since?: number;
  until?: number;
  /** Number of lines from the end, or 'all'. */
  tail: number | 'all';
  timestamps: boolean;
  details: boolean;
  signal: AbortSignal;
}

export interface AttachOptions {
  /** Stream live output (false: only replay logs, when `logs` is set). */
  stream: boolean;
  /** Replay the log before live output. */
  logs: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Key sequence that detaches (e.g. "ctrl-p,ctrl-q"); the engine watches stdin for it. */
  detachKeys?: string;
}

/**
 * A wait in two phases, as moby does it: `ContainersBackend.wait` resolves (or throws
 * NotFound/InvalidArgument) at once, so the route can answer 404 or send its 200 headers
 * before the container is even started (the CLI calls wait before start); `result` settles
 * when the condition is met.
 */
export interface WaitHandle {
  result: Promise<ContainerWaitResponse>;
}

export interface ArchiveGetResult {
  stat: PathStat;
  /** A tar of the path (its base name at the top). */
  tar: Readable;
}

export interface ArchivePutOptions {
  /** Directory inside the container to extract into. */
  path: string;
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

/** POST /commit query. */
export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause: boolean;
  /** Dockerfile instructions to apply (`--change`). */
  changes: string[];
  /** Body: config overrides, may be empty. */
  config?: ContainerConfig;
}

/**
 * Called by attach and exec start once the request is valid, before any output can flow: the
 * route answers the client's headers there (dockerd does too), so they never arrive in the
 * same read as the first output (docker-py then loses that output). An error thrown by
 * `accept` (the client went away) aborts the attach or start.
 */
export type AcceptStream = (tty: boolean) => Promise<void>;

/**
 * Lifecycle: create → start → (pause/unpause) → stop/kill → start again or remove.
 * `id` arguments are a full id, a unique id prefix or a name (with or without the slash).
 * Start on a running container and stop on a stopped one throw NotModified (HTTP 304).
 */
export interface ContainersBackend {
  create(name: string | undefined, body: ContainerCreateRequest, opts: { platform?: string }): Promise<ContainerCreateResponse>;
  start(id: string): Promise<void>;
  /** `timeout` in seconds (-1 waits forever); `signal` overrides the container's StopSignal. */
  stop(id: string, opts: { signal?: string; timeout?: number }): Promise<void>;
  restart(id: string, opts: { signal?: string; timeout?: number }): Promise<void>;
  /** `signal` by name ("SIGTERM", "TERM") or number; default SIGKILL. */
  kill(id: string, signal?: string): Promise<void>;
  wait(id: string, condition: WaitCondition, signal: AbortSignal): Promise<WaitHandle>;
  remove(id: string, opts: { force: boolean; volumes: boolean; link: boolean }): Promise<void>;
  list(opts: ContainerListOptions): Promise<ContainerSummary[]>;
  inspect(id: string, opts: { size: boolean }): Promise<ContainerInspect>;
  logs(id: string, opts: LogsOptions): Promise<LogSession>;
  /** Calls `accept` once the attach is accepted and before output is connected. */
  attach(id: string, opts: AttachOptions, accept?: AcceptStream): Promise<AttachSession>;
  resize(id: string, height: number, width: number): Promise<void>;
  /**
   * moby's stats samples: one a second while `stream`; else one answer (after a second
   * sample that fills precpu_stats, unless `oneShot`). Ends when `signal` aborts.
   */
  stats(id: string, opts: { stream: boolean; oneShot: boolean; signal: AbortSignal }): AsyncIterable<ContainerStatsResponse>;
  /** `signal`: the client went away (runc's answer is no longer wanted). */
  top(id: string, psArgs: string, signal?: AbortSignal): Promise<ContainerTopResponse>;
  changes(id: string): Promise<ContainerChangeResponseItem[]>;
  /** A tar of the container's root filesystem. */
  export(id: string): Promise<Readable>;
  archiveStat(id: string, path: string): Promise<PathStat>;
  archiveGet(id: string, path: string): Promise<ArchiveGetResult>;
  archivePut(id: string, tar: Readable, opts: ArchivePutOptions): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  rename(id: string, newName: string): Promise<void>;
  update(id: string, body: ContainerUpdateRequest): Promise<ContainerUpdateResponse>;
  /** Returns the new image id ("sha256:..."). */
  commit(opts: CommitOptions): Promise<{ Id: string }>;
  prune(filters: Filters): Promise<ContainerPruneResponse>;
}

// ---------------------------------------------------------------- exec

/**
 * Lifecycle: create (container must be running) → start once → inspect for the exit code.
 * `start` with `detach` resolves once the process runs and returns undefined; otherwise it
 * returns the process's AttachSession (output ends when the process exits).
 */
export interface ExecBackend {
  /** Returns the exec id. */
  create(containerId: string, config: ExecConfig): Promise<{ Id: string }>;
  /** Unless detached, calls `accept` once the start is accepted and before the process starts. */
  start(execId: string, opts: { detach: boolean; tty: boolean; consoleSize?: [number, number] }, accept?: AcceptStream): Promise<AttachSession | undefined>;
  resize(execId: string, height: number, width: number): Promise<void>;
  inspect(execId: string): Promise<ExecInspect>;
}

// ---------------------------------------------------------------- images

export interface ImageListOptions {
  all: boolean;
  filters: Filters;
  digests: boolean;
  sharedSize: boolean;
}

export interface ImageImportOptions {
  /** "-" for the request body, or a URL. */
  fromSrc: string;
  repo?: string;
  tag?: string;
  message?: string;
  changes: string[];
  platform?: string;
  /** The request body when fromSrc is "-". */
  body: Readable;
}

export interface ImagePullOptions {
  fromImage: string;
  tag?: string;
  platform?: string;
  /** X-Registry-Auth header, base64url JSON, passed through untouched. */
  registryAuth?: string;
  signal: AbortSignal;
}

/**
 * Image references are names ("busybox", "busybox:1.36", "reg:5000/a/b@sha256:..."), full or
 * short image ids. Progress-producing operations return AsyncIterables of JSON stream
 * messages: an error thrown before the first message becomes an HTTP error, a later one an
 * in-band {"errorDetail":...} message.
 */
export interface ImagesBackend {
  list(opts: ImageListOptions): Promise<ImageSummary[]>;
  inspect(name: string): Promise<ImageInspect>;
  history(name: string): Promise<HistoryResponseItem[]>;
  tag(name: string, repo: string, tag: string | undefined): Promise<void>;
  remove(name: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteResponseItem[]>;
  /** A docker-archive tar (manifest.json + OCI layout) of the named images. */
  save(names: string[]): Promise<Readable>;
  load(tar: Readable, opts: { quiet: boolean }): AsyncIterable<JsonStreamMessage>;
  import(opts: ImageImportOptions): AsyncIterable<JsonStreamMessage>;
  pull(opts: ImagePullOptions): AsyncIterable<JsonStreamMessage>;
  push(name: string, opts: { tag?: string; registryAuth?: string; signal: AbortSignal }): AsyncIterable<JsonStreamMessage>;
  prune(filters: Filters): Promise<ImagePruneResponse>;
}

// ---------------------------------------------------------------- system

export interface EventsOptions {
  /** Unix seconds; past events from then on are replayed first. */
  since?: number;
  /** Unix seconds; the stream ends then. Without it the stream runs until `signal`. */
  until?: number;
  filters: Filters;
  signal: AbortSignal;
}

export interface SystemBackend {
  /** Resolves when the engine is ready to serve (the ping route answers 500 otherwise). */
  ping(): Promise<void>;
  /** ApiVersion/MinAPIVersion are overwritten by the API layer. */
  version(): Promise<SystemVersion>;
  info(): Promise<SystemInfo>;
  events(opts: EventsOptions): AsyncIterable<EventMessage>;
  df(opts: { types: SystemDfType[] }): Promise<SystemDfResponse>;
  /**
   * Registers a callback run when the daemon begins shutting down, before the API server
   * closes; the server uses it to end long streams (events, logs -f, wait) cleanly.
   */
  onShutdown(callback: () => void): void;
}

// ---------------------------------------------------------------- volumes

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[];
}

/** Named local volumes: create (idempotent) → used by containers → remove (409 while in use). */
export interface VolumesBackend {
  list(filters: Filters): Promise<VolumeListResponse>;
  create(body: VolumeCreateRequest): Promise<Volume>;
  inspect(name: string): Promise<Volume>;
  remove(name: string, opts: { force: boolean }): Promise<void>;
  prune(filters: Filters): Promise<VolumesPruneResponse>;
}

export interface NetworksBackend {
  list(filters: Filters): Promise<NetworkResource[]>;
  create(body: NetworkCreateRequest): Promise<NetworkCreateResponse>;
  inspect(idOrName: string): Promise<NetworkResource>;
  remove(idOrName: string): Promise<void>;
  prune(filters: Filters): Promise<NetworksPruneResponse>;
  connect(idOrName: string, body: NetworkConnectRequest): Promise<void>;
  disconnect(idOrName: string, body: NetworkDisconnectRequest): Promise<void>;
}

export interface Backends {
  containers: ContainersBackend;
  exec: ExecBackend;
  images: ImagesBackend;
  system: SystemBackend;
}

export type BootstrapImage = 'busybox' | 'debian';

/** berth's own base images, built locally (POST /berth/images/bootstrap). */
export interface BootstrapBackend {
  /** Builds the image and tags it (`tag`, or busybox:latest / debian:bookworm); resolves with its ID. */
  bootstrap(name: BootstrapImage, tag: string | undefined): Promise<string>;
}

// ---------------------------------------------------------------- registry

/** GET /distribution/{name}/json: the descriptor a reference points to and the platforms it offers. */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number; urls?: string[] };
  Platforms: Array<{ architecture: string; os: string; 'os.version'?: string; 'os.features'?: string[]; variant?: string }>;
}

export interface RegistryBackend {
  /** POST /auth: checks credentials against the registry (body: docker's AuthConfig JSON). */
  auth(body: unknown): Promise<{ Status: string; IdentityToken: string }>;
  /** GET /distribution/{name}/json, with the raw X-Registry-Auth header. */
  distributionInspect(name: string, registryAuth: string | undefined): Promise<DistributionInspect>;
}

// ---------------------------------------------------------------- build

/** POST /build: the request as the route parsed it; the backend receives the context itself. */
export type BuildOptions = Omit<BuildRequest, 'contextDir'>;

export interface BuildBackend {
  /**
   * Unpacks `context` (a tar, maybe gzip/bzip2/xz/zstd-compressed) into a folder of its own,
   * confined (no `..` out, no links out: InvalidArgument), builds, and removes the folder.
   * Events arrive through `onEvent` as the build goes; a failure rejects and leaves nothing.
   */
  build(context: Readable, opts: BuildOptions, onEvent: (event: BuildEvent) => void): Promise<BuildResult>;
  /** berth's POST /berth/build/local: the client's folder on the daemon's host, read in place (absent: 404, the client sends a tar). */
  buildLocal?(claim: { path: string; dev: string; ino: string }, opts: BuildOptions, onEvent: (event: BuildEvent) => void): Promise<BuildResult>;
  /** POST /build/prune (absent until the executor keeps a cache: the route then deletes nothing). */
  prune?(opts: { all: boolean; filters: Filters }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>;
}
