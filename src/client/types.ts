/**
 * Wire shapes the client uses. Container, exec and system models come from the API layer's
 * src/api/types. The image models below are the client's own and looser than the server's
 * (src/api/types/images.ts): the CLI also talks to dockerd, which answers null where berth
 * answers [] (RepoTags, RepoDigests, Labels on older API versions).
 */
import type { StringMap } from '../api/types/common';

export type { Filters, JsonStreamMessage, IdResponse } from '../api/types/common';
export type {
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerSummary,
  ContainerInspect,
  ContainerWaitResponse,
  WaitCondition,
  ContainerTopResponse,
  ContainerStatsResponse,
  ContainerChangeResponseItem,
  ContainerPruneResponse,
  HostConfig,
  PathStat,
  Port,
  DeviceMapping,
  Mount,
  ThrottleDevice,
  Ulimit,
  HealthConfig,
  EndpointSettings,
} from '../api/types/containers';
export type { ExecConfig, ExecStartConfig, ExecInspect } from '../api/types/exec';
export type { SystemVersion, SystemInfo, EventMessage, SystemDfResponse, Volume, VolumesPruneResponse, BuildCachePruneResponse } from '../api/types/system';
export type { VolumeCreateRequest, VolumeListResponse } from '../api/backend';
export type { NetworkResource, NetworkCreateRequest, NetworkCreateResponse, NetworkConnectRequest, NetworkDisconnectRequest } from '../api/types/networks';

/** One item of GET /images/json. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: StringMap | null;
  Containers: number;
}

/** GET /images/{name}/json: the fields the CLI reads; the rest is printed as received. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Parent: string;
  Comment: string;
  Created: string;
  Author: string;
  Architecture: string;
  Os: string;
  Size: number;
  Config: Record<string, unknown> | null;
  RootFS: { Type: string; Layers?: string[] };
  [key: string]: unknown;
}

/** One item of GET /images/{name}/history. */
export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One item of DELETE /images/{name}. */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagesPruneResponse {
  ImagesDeleted: ImageDeleteItem[] | null;
  SpaceReclaimed: number;
}

export interface NetworksPruneResponse {
  NetworksDeleted: string[] | null;
}
