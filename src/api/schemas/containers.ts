import type { Static } from '@sinclair/typebox';
import type { ContainerConfig, ContainerCreateRequest, ContainerUpdateRequest, HostConfig } from '../types/containers';
import { bodyDecoder, bool, int, list, map, set, str, strMap, strSlice, strings, struct, uint, uint16, uint32 } from './go-json';

/** The Go structs of moby's api/types/container that request bodies decode into. */

const healthConfig = struct('container.HealthConfig', {
  Test: strings(),
  Interval: int('time.Duration'),
  Timeout: int('time.Duration'),
  StartPeriod: int('time.Duration'),
  StartInterval: int('time.Duration'),
  Retries: int('int'),
});

const configFields = {
  Hostname: str(),
  Domainname: str(),
  User: str(),
  AttachStdin: bool(),
  AttachStdout: bool(),
  AttachStderr: bool(),
  ExposedPorts: set(),
  Tty: bool(),
  OpenStdin: bool(),
  StdinOnce: bool(),
  Env: strings(),
  Cmd: strSlice(),
  Healthcheck: healthConfig,
  ArgsEscaped: bool(),
  Image: str(),
  Volumes: set(),
  WorkingDir: str(),
  Entrypoint: strSlice(),
  NetworkDisabled: bool(),
  MacAddress: str(),
  OnBuild: strings(),
  Labels: strMap(),
  StopSignal: str(),
  StopTimeout: int('int'),
  Shell: strSlice(),
};

const throttleDevice = struct('blkiodev.ThrottleDevice', { Path: str(), Rate: uint() });

const resourceFields = {
  CpuShares: int(),
  Memory: int(),
  NanoCpus: int(),
  CgroupParent: str(),
  BlkioWeight: uint16(),
  BlkioWeightDevice: list(struct('blkiodev.WeightDevice', { Path: str(), Weight: uint16() })),
  BlkioDeviceReadBps: list(throttleDevice),
  BlkioDeviceWriteBps: list(throttleDevice),
  BlkioDeviceReadIOps: list(throttleDevice),
  BlkioDeviceWriteIOps: list(throttleDevice),
  CpuPeriod: int(),
  CpuQuota: int(),
  CpuRealtimePeriod: int(),
  CpuRealtimeRuntime: int(),
  CpusetCpus: str(),
  CpusetMems: str(),
  Devices: list(struct('container.DeviceMapping', { PathOnHost: str(), PathInContainer: str(), CgroupPermissions: str() })),
  DeviceCgroupRules: strings(),
  DeviceRequests: list(
    struct('container.DeviceRequest', { Driver: str(), Count: int('int'), DeviceIDs: strings(), Capabilities: list(strings()), Options: strMap() }),
  ),
  KernelMemory: int(),
  KernelMemoryTCP: int(),
  MemoryReservation: int(),
  MemorySwap: int(),
  MemorySwappiness: int(),
  OomKillDisable: bool(),
  PidsLimit: int(),
  Ulimits: list(struct('units.Ulimit', { Name: str(), Hard: int(), Soft: int() })),
  CpuCount: int(),
  CpuPercent: int(),
  IOMaximumIOps: uint(),
  IOMaximumBandwidth: uint(),
};

const restartPolicy = struct('container.RestartPolicy', { Name: str(), MaximumRetryCount: int('int') });

const mount = struct('mount.Mount', {
  Type: str(),
  Source: str(),
  Target: str(),
  ReadOnly: bool(),
  Consistency: str(),
  BindOptions: struct('mount.BindOptions', {
    Propagation: str(),
    NonRecursive: bool(),
    CreateMountpoint: bool(),
    ReadOnlyNonRecursive: bool(),
    ReadOnlyForceRecursive: bool(),
  }),
  VolumeOptions: struct('mount.VolumeOptions', {
    NoCopy: bool(),
    Labels: strMap(),
    Subpath: str(),
    DriverConfig: struct('mount.Driver', { Name: str(), Options: strMap() }),
  }),
  TmpfsOptions: struct('mount.TmpfsOptions', { SizeBytes: int(), Mode: uint32(), Options: list(strings()) }),
});

const hostConfig = struct('container.HostConfig', {
  ...resourceFields,
  Binds: strings(),
  ContainerIDFile: str(),
  LogConfig: struct('container.LogConfig', { Type: str(), Config: strMap() }),
  NetworkMode: str(),
  PortBindings: map(list(struct('nat.PortBinding', { HostIp: str(), HostPort: str() }))),
  RestartPolicy: restartPolicy,
  AutoRemove: bool(),
  VolumeDriver: str(),
  VolumesFrom: strings(),
  ConsoleSize: list(uint('uint')),
  Annotations: strMap(),
  CapAdd: strSlice(),
  CapDrop: strSlice(),
  CgroupnsMode: str(),
  Dns: strings(),
  DnsOptions: strings(),
  DnsSearch: strings(),
  ExtraHosts: strings(),
  GroupAdd: strings(),
  IpcMode: str(),
  Cgroup: str(),
  Links: strings(),
  OomScoreAdj: int('int'),
  PidMode: str(),
  Privileged: bool(),
  PublishAllPorts: bool(),
  ReadonlyRootfs: bool(),
  SecurityOpt: strings(),
  StorageOpt: strMap(),
  Tmpfs: strMap(),
  UTSMode: str(),
  UsernsMode: str(),
  ShmSize: int(),
  Sysctls: strMap(),
  Runtime: str(),
  Isolation: str(),
  MaskedPaths: strings(),
  ReadonlyPaths: strings(),
  Mounts: list(mount),
  Init: bool(),
});

export const endpointSettings = struct('network.EndpointSettings', {
  IPAMConfig: struct('network.EndpointIPAMConfig', { IPv4Address: str(), IPv6Address: str(), LinkLocalIPs: strings() }),
  Links: strings(),
  Aliases: strings(),
  MacAddress: str(),
  DriverOpts: strMap(),
  NetworkID: str(),
  EndpointID: str(),
  Gateway: str(),
  IPAddress: str(),
  IPPrefixLen: int('int'),
  IPv6Gateway: str(),
  GlobalIPv6Address: str(),
  GlobalIPv6PrefixLen: int('int'),
  DNSNames: strings(),
});

const createBody = struct('ContainerConfigWrapper', {
  ...configFields,
  HostConfig: hostConfig,
  NetworkingConfig: struct('network.NetworkingConfig', { EndpointsConfig: map(endpointSettings) }),
});
const configBody = struct('ContainerConfigWrapper', configFields);
const updateBody = struct('container.UpdateConfig', { ...resourceFields, RestartPolicy: restartPolicy });

/** Compile-time guard: every field a schema lists exists in the wire interface it validates. */
type Unknown<S, I> = Exclude<keyof S, keyof I>;
const fieldsExist = <_ extends never>() => undefined;
fieldsExist<Unknown<Static<typeof createBody>, ContainerCreateRequest>>();
fieldsExist<Unknown<Static<typeof hostConfig>, HostConfig>>();
fieldsExist<Unknown<Static<typeof configBody>, ContainerConfig>>();
fieldsExist<Unknown<Static<typeof updateBody>, ContainerUpdateRequest>>();

/** POST /containers/create */
export const containerCreateBody = bodyDecoder<ContainerCreateRequest>('ContainerConfigWrapper', createBody);
/** POST /commit (the new image's Config) */
export const commitConfigBody = bodyDecoder<ContainerConfig>('ContainerConfigWrapper', configBody);
/** POST /containers/{id}/update */
export const containerUpdateBody = bodyDecoder<ContainerUpdateRequest>('UpdateConfig', updateBody);
