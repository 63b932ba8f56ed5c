import type { StringMap } from './common';
import type { ContainerSummary } from './containers';

/** System wire models: /version, /info, /events, /system/df. */

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: StringMap;
}

/** GET /version. ApiVersion and MinAPIVersion are filled in by the API layer. */
export interface SystemVersion {
  Platform: { Name: string };
  Components: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  Experimental?: boolean;
  BuildTime: string;
}

export interface RuntimeInfo {
  path: string;
  runtimeArgs?: string[];
}

export interface PluginsInfo {
  Volume: string[];
  Network: string[];
  Authorization: string[] | null;
  Log: string[];
}

export interface RegistryServiceConfig {
  AllowNondistributableArtifactsCIDRs?: string[];
  AllowNondistributableArtifactsHostnames?: string[];
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }>;
  Mirrors: string[];
}

/** GET /info (SystemInfo). Fields Berth cannot know are left at Docker's zero values. */
export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][];
  DockerRootDir: string;
  Plugins: PluginsInfo;
  MemoryLimit: boolean;
  SwapLimit: boolean;
  KernelMemoryTCP?: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  OomKillDisable: boolean;
  IPv4Forwarding: boolean;
  BridgeNfIptables?: boolean;
  BridgeNfIp6tables?: boolean;
  Debug: boolean;
  NFd: number;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: 'cgroupfs' | 'systemd' | 'none';
  CgroupVersion: '1' | '2';
  NEventsListener: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  IndexServerAddress: string;
  RegistryConfig: RegistryServiceConfig | null;
  GenericResources?: unknown[] | null;
  HttpProxy: string;
  HttpsProxy: string;
  NoProxy: string;
  Name: string;
  Labels: string[];
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes: Record<string, RuntimeInfo>;
  DefaultRuntime: string;
  Swarm: { NodeID: string; NodeAddr: string; LocalNodeState: 'inactive' | 'pending' | 'active' | 'error' | 'locked'; ControlAvailable: boolean; Error: string; RemoteManagers: unknown[] | null };
  LiveRestoreEnabled: boolean;
  Isolation: string;
  InitBinary: string;
  ContainerdCommit: { ID: string; Expected?: string };
  RuncCommit: { ID: string; Expected?: string };
  InitCommit: { ID: string; Expected?: string };
  SecurityOptions: string[];
  ProductLicense?: string;
  DefaultAddressPools?: { Base: string; Size: number }[];
  Warnings: string[] | null;
  CDISpecDirs?: string[];
}

/** One message of GET /events (a JSON stream). */
export interface EventMessage {
  Type: 'builder' | 'config' | 'container' | 'daemon' | 'image' | 'network' | 'node' | 'plugin' | 'secret' | 'service' | 'volume';
  Action: string;
  Actor: { ID: string; Attributes: StringMap };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
  /** Deprecated fields older clients still read. */
  status?: string;
  id?: string;
  from?: string;
}

/** A volume (GET /volumes/{name}); /system/df adds UsageData. */
export type Volume = VolumeUsage;

export interface VolumeUsage {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Labels: StringMap | null;
  Scope: 'local' | 'global';
  Options: StringMap | null;
  UsageData: { Size: number; RefCount: number } | null;
}

export interface BuildCacheUsage {
  ID: string;
  Parent?: string | null;
  Parents?: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** Image usage as /system/df reports it (the ImageSummary shape). */
export interface ImageUsage {
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

/** GET /system/df. */
export interface SystemDfResponse {
  LayersSize: number;
  Images: ImageUsage[];
  Containers: ContainerSummary[];
  Volumes: VolumeUsage[];
  BuildCache: BuildCacheUsage[];
}

export type SystemDfType = 'container' | 'image' | 'volume' | 'build-cache';

export interface VolumesPruneResponse {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

export interface BuildCachePruneResponse {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}
