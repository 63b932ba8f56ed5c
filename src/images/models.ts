import type { Digest } from '../util/digest';
import { isDigest } from '../util/digest';
import { invalidArgument } from '../errors';
import { MediaTypes, isConfigType, isIndexType, isLayerType, isManifestType } from './media-types';

/**
 * OCI image-spec models (manifest, index, config), which also describe Docker's v2
 * schema 2 manifest and manifest list: the JSON shapes are the same, only media types differ.
 */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** Docker's health check, an extension of the OCI config that Docker images carry. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The runtime defaults in an image config (OCI fields plus Docker's extensions). */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
}

/**
 * Docker's whole container config (container.Config), which docker-built and committed
 * images carry as `container_config` (and often as `config`): the run defaults plus the
 * container's own settings.
 */
export interface DockerContainerConfig extends ImageRunConfig {
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  StopTimeout?: number;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ImageRunConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  /** Docker extensions kept for `docker inspect`. */
  container?: string;
  container_config?: DockerContainerConfig;
  docker_version?: string;
  comment?: string;
  parent?: string;
}

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(`invalid ${what}: not a JSON object`);
  return value as Record<string, unknown>;
}

function parseJson(data: Buffer | string, what: string): Record<string, unknown> {
  try {
    return asObject(JSON.parse(data.toString()), what);
  } catch (err) {
    throw invalidArgument(`invalid ${what}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

export function validateDescriptor(value: unknown, what: string): Descriptor {
  const d = asObject(value, what);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw invalidArgument(`invalid ${what}: bad digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalidArgument(`invalid ${what}: bad size`);
  if (typeof d.mediaType !== 'string') throw invalidArgument(`invalid ${what}: missing mediaType`);
  return d as unknown as Descriptor;
}

/** Reads a manifest (OCI or Docker v2 schema 2). */
export function parseManifest(data: Buffer | string, mediaTypeHint?: string): ImageManifest {
  const m = parseJson(data, 'manifest');
  const mediaType = (typeof m.mediaType === 'string' ? m.mediaType : mediaTypeHint) ?? MediaTypes.ociManifest;
  if (m.schemaVersion !== 2) throw invalidArgument('invalid manifest: unsupported schemaVersion');
  if (!isManifestType(mediaType)) throw invalidArgument(`invalid manifest: unexpected media type ${mediaType}`);
  const config = validateDescriptor(m.config, 'manifest config descriptor');
  if (!isConfigType(config.mediaType)) throw invalidArgument(`invalid manifest: unexpected config media type ${config.mediaType}`);
  if (!Array.isArray(m.layers)) throw invalidArgument('invalid manifest: layers missing');
  const layers = m.layers.map((l, i) => validateDescriptor(l, `manifest layer ${i}`));
  for (const l of layers) {
    if (!isLayerType(l.mediaType)) throw invalidArgument(`invalid manifest: unsupported layer media type ${l.mediaType}`);
  }
  return { ...(m as unknown as ImageManifest), mediaType, config, layers };
}

/** Reads an index (OCI image index or Docker manifest list). */
export function parseIndex(data: Buffer | string, mediaTypeHint?: string): ImageIndex {
  const m = parseJson(data, 'index');
  const mediaType = (typeof m.mediaType === 'string' ? m.mediaType : mediaTypeHint) ?? MediaTypes.ociIndex;
  if (m.schemaVersion !== 2) throw invalidArgument('invalid index: unsupported schemaVersion');
  if (!isIndexType(mediaType)) throw invalidArgument(`invalid index: unexpected media type ${mediaType}`);
  if (!Array.isArray(m.manifests)) throw invalidArgument('invalid index: manifests missing');
  const manifests = m.manifests.map((d, i) => validateDescriptor(d, `index entry ${i}`));
  return { ...(m as unknown as ImageIndex), mediaType, manifests };
}

/** Reads an image config and checks the parts berth relies on. */
export function parseImageConfig(data: Buffer | string): ImageConfig {
  const c = parseJson(data, 'image config');
  const rootfs = c.rootfs === undefined ? undefined : asObject(c.rootfs, 'image config rootfs');
  if (!rootfs || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) throw invalidArgument('invalid image config: rootfs.diff_ids missing');
  for (const d of rootfs.diff_ids) {
    if (typeof d !== 'string' || !isDigest(d)) throw invalidArgument(`invalid image config: bad diff id ${JSON.stringify(d)}`);
  }
  if (c.config !== undefined && c.config !== null) asObject(c.config, 'image config config');
  if (c.history !== undefined && !Array.isArray(c.history)) throw invalidArgument('invalid image config: history is not a list');
  return {
    ...(c as unknown as ImageConfig),
    architecture: typeof c.architecture === 'string' ? c.architecture : 'amd64',
    os: typeof c.os === 'string' ? c.os : 'linux',
    config: (c.config ?? undefined) as ImageRunConfig | undefined,
  };
}

/** The platform berth runs: linux/amd64. */
export const HOST_PLATFORM: Platform = { os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64' };

/** Picks the manifest for the host platform from an index (first match, else the only entry). */
export function selectPlatformManifest(index: ImageIndex, platform: Platform = HOST_PLATFORM): Descriptor | undefined {
  const manifests = index.manifests.filter((d) => isManifestType(d.mediaType) || isIndexType(d.mediaType));
  const match = manifests.find((d) => d.platform?.os === platform.os && d.platform?.architecture === platform.architecture);
  if (match) return match;
  const unlabelled = manifests.filter((d) => d.platform === undefined);
  return unlabelled.length >= 1 ? unlabelled[0] : undefined;
}

/** Canonical bytes for a JSON blob berth writes (stable, so equal content gives equal digests). */
export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
