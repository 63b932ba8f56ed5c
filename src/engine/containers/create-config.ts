import * as path from 'node:path';
import { invalidArgument } from '../../errors';
import type { ContainerConfig, HealthConfig } from '../../api/types/containers';
import { mergeHealthcheck } from '../health/health-config';

export type { ContainerConfig, HostConfig } from '../../api/types/containers';

/** Image config fields that seed a container's config (OCI image config "config"). */
export interface ImageRuntimeDefaults {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Volumes?: Record<string, Record<string, never>> | null;
  Healthcheck?: HealthConfig | null;
  Shell?: string[] | null;
}

function asList(value: string[] | string | null | undefined): string[] | null {
  // Docker accepts a plain string for Cmd/Entrypoint from old clients: it runs through a shell.
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? ['/bin/sh', '-c', value] : value;
}

const envKey = (entry: string): string => entry.split('=', 1)[0]!;

/**
 * A container's Config.Env as dockerd stores it: the request's entries as given, then the
 * image's entries whose key the request does not name (so `-e NAME` without a value still
 * hides the image's NAME).
 */
export function mergeEnv(image: string[], request: string[]): string[] {
  const requested = new Set(request.map(envKey));
  return [...request, ...image.filter((entry) => !requested.has(envKey(entry)))];
}

/**
 * moby's ReplaceOrAppendEnvValues: each override replaces the entry with its key or is
 * appended; an override without "=" removes its key and is itself dropped (the docker CLI
 * sends `-e NAME` that way when NAME is unset on its side; runc refuses such an entry).
 * A key given twice keeps its last value, as runc's environment does.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const result: (string | undefined)[] = [...defaults];
  const index = new Map<string, number>();
  result.forEach((entry, i) => index.set(envKey(entry!), i));
  for (const entry of overrides) {
    const key = envKey(entry);
    const at = index.get(key);
    if (!entry.includes('=')) {
      if (at !== undefined) result[at] = undefined;
      continue;
    }
    if (at !== undefined) result[at] = entry;
    else {
      index.set(key, result.length);
      result.push(entry);
    }
  }
  return result.filter((entry): entry is string => entry !== undefined);
}

/**
 * Fills a create request's Config from the image, as Docker does: env merged by key, the
 * image's Cmd dropped when the request sets an Entrypoint, and so on.
 */
export function mergeImageConfig(request: ContainerConfig, image: ImageRuntimeDefaults): ContainerConfig {
  const entrypointOverride = asList(request.Entrypoint);
  let cmd = asList(request.Cmd);
  let entrypoint = entrypointOverride;
  if (entrypoint === null) entrypoint = image.Entrypoint ?? null;
  if (cmd === null || cmd.length === 0) cmd = entrypointOverride !== null ? null : (image.Cmd ?? null);
  if (entrypoint !== null && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null;
  for (const value of request.Env ?? []) {
    if (value.startsWith('=') || value === '') throw invalidArgument(`invalid environment variable: ${value}`);
  }
  return {
    ...request,
    Env: mergeEnv(image.Env ?? [], request.Env ?? []),
    Cmd: cmd,
    Entrypoint: entrypoint,
    WorkingDir: request.WorkingDir || image.WorkingDir || '',
    User: request.User || image.User || '',
    StopSignal: request.StopSignal || image.StopSignal || undefined,
    Labels: { ...(image.Labels ?? {}), ...(request.Labels ?? {}) },
    ExposedPorts: mergeSets(request.ExposedPorts, image.ExposedPorts),
    Volumes: mergeSets(request.Volumes, image.Volumes),
    ...healthFromImage(request, image),
  };
}

type StringSet = Record<string, Record<string, never>>;

/** The image's HEALTHCHECK (and SHELL, which CMD-SHELL probes run in) where the request has none, as moby's merge. */
function healthFromImage(request: ContainerConfig, image: ImageRuntimeDefaults): Pick<ContainerConfig, 'Healthcheck' | 'Shell'> {
  const healthcheck = mergeHealthcheck(request.Healthcheck, image.Healthcheck);
  const shell = request.Shell && request.Shell.length > 0 ? request.Shell : image.Shell;
  return { ...(healthcheck ? { Healthcheck: healthcheck } : {}), ...(shell && shell.length > 0 ? { Shell: shell } : {}) };
}

/** As moby's merge: an empty request set takes the image's as is (null included), else the union. */
function mergeSets(request: StringSet | null | undefined, image: StringSet | null | undefined): StringSet | null {
  if (!request || Object.keys(request).length === 0) return image ?? null;
  return { ...(image ?? {}), ...request };
}

/** The process argv (entrypoint + cmd); refuses an empty one like Docker. */
export function processArgs(config: ContainerConfig): string[] {
  const argv = [...(asList(config.Entrypoint) ?? []), ...(asList(config.Cmd) ?? [])];
  if (argv.length === 0) throw invalidArgument('No command specified');
  return argv;
}

export interface ParsedBind {
  type: 'bind' | 'volume';
  source: string;
  destination: string;
  readonly: boolean;
  /** `nocopy`: an empty volume is not filled with the image's content at the destination. */
  nocopy: boolean;
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Parses `-v` binds: `/host:/ctr[:ro|rw]` and `name:/ctr[:ro]` (local named volumes). */
export function parseBind(spec: string): ParsedBind {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalidArgument(`invalid volume specification: '${spec}'`);
  const [source, destination, mode = 'rw'] = parts as [string, string, string?];
  if (!path.isAbsolute(destination)) {
    throw invalidArgument(`invalid volume specification: '${spec}': invalid mount config for type "bind": invalid mount path: '${destination}' mount path must be absolute`);
  }
  const options = mode.split(',');
  for (const option of options) {
    if (!['ro', 'rw', 'z', 'Z', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'nocopy'].includes(option)) {
      throw invalidArgument(`invalid mode: ${mode}`);
    }
  }
  const readonly = options.includes('ro');
  const nocopy = options.includes('nocopy');
  if (path.isAbsolute(source)) return { type: 'bind', source: path.normalize(source), destination: path.normalize(destination), readonly, nocopy };
  if (!VOLUME_NAME.test(source)) throw invalidArgument(`invalid volume specification: '${spec}'`);
  return { type: 'volume', source, destination: path.normalize(destination), readonly, nocopy };
}

/**
 * The namespace a network mode needs: the host's, one with loopback only (none), or one of its
 * own that networking sets up ('default': the bridge, a user network, or container:<id>,
 * whose namespace the network hook hands in). Networks are checked by the network service.
 */
export function normalizeNetworkMode(mode: string | undefined): 'none' | 'host' | 'default' {
  if (mode === 'none' || mode === 'host') return mode;
  if (mode === 'container:') throw invalidArgument('invalid network mode: container: needs a container name or ID');
  return 'default';
}
