import type { Digest } from '../../util/digest';
import type { ImageRecord } from '../../metadata/images';
import type { DockerContainerConfig, ImageConfig, ImageManifest, ImageRunConfig } from '../../images/models';

/** An image with everything the engine needs to run or show it. */
export interface ResolvedImage {
  /** "sha256:..." config digest. */
  id: Digest;
  record: ImageRecord;
  manifest: ImageManifest;
  /** The whole OCI image config JSON. */
  config: ImageConfig;
  /** Its runtime defaults (config.config), never undefined. */
  runConfig: ImageRunConfig;
  diffIds: Digest[];
  /** Chain ID of the top layer; null for an image with no layers (scratch). */
  chainId: Digest | null;
  /** Familiar "name:tag" strings, sorted. */
  repoTags: string[];
  /** Familiar "name@sha256:..." strings. */
  repoDigests: string[];
  /** RFC 3339 ('' when the config has none). */
  created: string;
  /** Unpacked size (bytes) of all layers. */
  size: number;
}

/** One container's use of an image, for rmi's conflict rules. */
export interface ContainerUse {
  id: string;
  running: boolean;
}

/**
 * What the containers side tells the image service during removal and pruning:
 * which containers were created from an image, and whether a layer chain is under some
 * container's root file system (such a layer is kept even when no image needs it).
 */
export interface ImageUsage {
  containers(imageId: Digest): ContainerUse[];
  layerInUse(chainId: Digest): boolean;
}

export const NO_IMAGE_USAGE: ImageUsage = { containers: () => [], layerInUse: () => false };

export interface ListImagesOptions {
  all?: boolean;
  /** Docker filters: dangling, label, before, since, reference, until. */
  filters?: Record<string, string[]>;
}

export interface CommitLayerOptions {
  /** The image the layer sits on (the container's image); none for a base image. */
  parentImage?: ResolvedImage;
  /** The layer as an uncompressed tar (`.wh.` whiteouts); or `layer`. */
  diffTar?: import('node:stream').Readable;
  /**
   * A layer committed already (a container's changes, a build step), whose blob is made
   * only when needed (save, push): its tar is regenerated from the layer then.
   */
  layer?: { chainId: Digest; diffId: Digest; tarSize: number };
  /**
   * Commits the layer (a container's changes) for this image: run while no collection can
   * remove it before the image references it. Instead of `layer` and `diffTar`.
   */
  makeLayer?: () => Promise<{ chainId: Digest; diffId: Digest; tarSize: number }>;
  /** Runtime config of the new image; default: the parent's. */
  config?: ImageRunConfig;
  /** Dockerfile-style changes applied on top ("CMD [...]", "ENV A=b", ...). */
  changes?: string[];
  comment?: string;
  author?: string;
  /** The history entry's created_by. */
  createdBy?: string;
  /** RFC 3339; default now. A fixed value makes the image ID reproducible. */
  created?: string;
  /** Container ID, kept in the config as Docker does. */
  container?: string;
  /** The container's whole config, kept as `container_config` as Docker does. */
  containerConfig?: DockerContainerConfig;
  repo?: string;
  tag?: string;
}

export interface ImportOptions {
  repo?: string;
  tag?: string;
  changes?: string[];
  message?: string;
  /** The source shown in the default message ("Imported from -"). */
  source?: string;
}

export interface LoadResult {
  /** "Loaded image: busybox:latest" / "Loaded image ID: sha256:..." lines, as docker load prints them. */
  loaded: string[];
  /** Image IDs registered. */
  ids: Digest[];
}

export interface PruneResult {
  ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }>;
  SpaceReclaimed: number;
}
