/**
 * Docker Engine API wire models for images (API 1.44+, with the fields older clients
 * still read). Field names and casing follow Docker's swagger.yaml exactly.
 */

/**
 * An image's runtime defaults as the API shows them: Docker's container.Config, whose
 * non-optional fields dockerd always emits (zero values included).
 */
export interface ImageConfigWire {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[];
}

/** GET /images/json */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds. */
  Created: number;
  Size: number;
  /** -1 unless computed (system df). */
  SharedSize: number;
  /** Deprecated (removed in API 1.44) but still read by older clients. */
  VirtualSize?: number;
  Labels: Record<string, string>;
  /** -1 unless computed (system df). */
  Containers: number;
}

/** GET /images/{name}/json */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  /** RFC 3339 with nanoseconds. */
  Created: string;
  /** The container a commit came from. moby 26 drops it from API 1.45; berth keeps it. */
  Container?: string;
  /** The container's config for a commit, the zero config otherwise; docker-compose v1 reads it. */
  ContainerConfig?: ImageConfigWire;
  DockerVersion: string;
  Author: string;
  /** null when the image config has no `config`, as dockerd shows it. */
  Config: ImageConfigWire | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  /** Omitted from API 1.44 on. */
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  /** LastTagTime is Go's zero time ("0001-01-01T00:00:00Z") for an image never tagged here. */
  Metadata: { LastTagTime: string };
}

/** GET /images/{name}/history, newest first. */
export interface HistoryResponseItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** DELETE /images/{name} answers a list of these. */
export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

/** POST /images/prune */
export interface ImagePruneResponse {
  ImagesDeleted: ImageDeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

/** POST /commit and similar answer `{ Id }`. */
export interface ImageIdResponse {
  Id: string;
}
