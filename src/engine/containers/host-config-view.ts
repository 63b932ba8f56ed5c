import type { HostConfig } from '../../api/types/containers';
import { withDefaultDriver } from './log-config';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_SHM_SIZE, parseSecurityOptions } from '../../runtime/spec/build-spec';

/**
 * `HostConfig` of `GET /containers/{id}/json` in dockerd's shape: every field of moby's
 * HostConfig struct (20.10, API 1.41) in its order, with Go's zero value where the client sent
 * nothing (null for slices, maps and pointers), the values dockerd fills in at create (ShmSize,
 * IpcMode, CgroupnsMode, Runtime, OomKillDisable, the masked paths) and nothing the client
 * sent that dockerd does not know. Fields tagged `omitempty` in moby appear only when set.
 * Clients read these unconditionally (docker-compose v1 reads Runtime, IpcMode, PidMode...).
 */
export function hostConfigView(host: HostConfig): HostConfig {
  const unmasked = host.Privileged === true || parseSecurityOptionsSafe(host.SecurityOpt ?? []);
  const nonEmpty = <T>(value: T | null | undefined): T | undefined => {
    if (value === null || value === undefined) return undefined;
    if (Array.isArray(value)) return value.length > 0 ? value : undefined;
    if (typeof value === 'object') return Object.keys(value).length > 0 ? value : undefined;
    return value;
  };
  const view: Record<string, unknown> = {
    Binds: host.Binds ?? null,
    ContainerIDFile: host.ContainerIDFile ?? '',
    // Records from before create stored the default driver have none.
    LogConfig: withDefaultDriver(host.LogConfig),
    NetworkMode: host.NetworkMode || 'default',
    PortBindings: host.PortBindings ?? null,
    RestartPolicy: { Name: host.RestartPolicy?.Name ?? '', MaximumRetryCount: host.RestartPolicy?.MaximumRetryCount ?? 0 },
    AutoRemove: host.AutoRemove ?? false,
    VolumeDriver: host.VolumeDriver ?? '',
    VolumesFrom: host.VolumesFrom ?? null,
    CapAdd: host.CapAdd ?? null,
    CapDrop: host.CapDrop ?? null,
    // berth makes no cgroup namespace: the container sees the host's (dockerd's default on cgroup v1).
    CgroupnsMode: host.CgroupnsMode || 'host',
    Dns: host.Dns ?? null,
    DnsOptions: host.DnsOptions ?? null,
    DnsSearch: host.DnsSearch ?? null,
    ExtraHosts: host.ExtraHosts ?? null,
    GroupAdd: host.GroupAdd ?? null,
    IpcMode: host.IpcMode || 'private',
    Cgroup: host.Cgroup ?? '',
    Links: host.Links ?? null,
    OomScoreAdj: host.OomScoreAdj ?? 0,
    PidMode: host.PidMode ?? '',
    Privileged: host.Privileged ?? false,
    PublishAllPorts: host.PublishAllPorts ?? false,
    ReadonlyRootfs: host.ReadonlyRootfs ?? false,
    SecurityOpt: securityOptView(host),
    StorageOpt: nonEmpty(host.StorageOpt),
    Tmpfs: nonEmpty(host.Tmpfs),
    UTSMode: host.UTSMode ?? '',
    UsernsMode: host.UsernsMode ?? '',
    ShmSize: host.ShmSize || DEFAULT_SHM_SIZE,
    Sysctls: nonEmpty(host.Sysctls),
    Runtime: host.Runtime || 'runc',
    ConsoleSize: host.ConsoleSize ?? [0, 0],
    Isolation: host.Isolation ?? '',
    Annotations: nonEmpty(host.Annotations),
    CpuShares: host.CpuShares ?? 0,
    Memory: host.Memory ?? 0,
    NanoCpus: host.NanoCpus ?? 0,
    CgroupParent: host.CgroupParent ?? '',
    BlkioWeight: host.BlkioWeight ?? 0,
    BlkioWeightDevice: host.BlkioWeightDevice ?? null,
    BlkioDeviceReadBps: host.BlkioDeviceReadBps ?? null,
    BlkioDeviceWriteBps: host.BlkioDeviceWriteBps ?? null,
    BlkioDeviceReadIOps: host.BlkioDeviceReadIOps ?? null,
    BlkioDeviceWriteIOps: host.BlkioDeviceWriteIOps ?? null,
    CpuPeriod: host.CpuPeriod ?? 0,
    CpuQuota: host.CpuQuota ?? 0,
    CpuRealtimePeriod: host.CpuRealtimePeriod ?? 0,
    CpuRealtimeRuntime: host.CpuRealtimeRuntime ?? 0,
    CpusetCpus: host.CpusetCpus ?? '',
    CpusetMems: host.CpusetMems ?? '',
    Devices: host.Devices ?? null,
    DeviceCgroupRules: host.DeviceCgroupRules ?? null,
    DeviceRequests: host.DeviceRequests ?? null,
    KernelMemory: host.KernelMemory ?? 0,
    KernelMemoryTCP: host.KernelMemoryTCP ?? 0,
    MemoryReservation: host.MemoryReservation ?? 0,
    MemorySwap: host.MemorySwap ?? 0,
    MemorySwappiness: host.MemorySwappiness ?? null,
    OomKillDisable: host.OomKillDisable ?? false,
    PidsLimit: host.PidsLimit ?? null,
    Ulimits: host.Ulimits ?? null,
    CpuCount: host.CpuCount ?? 0,
    CpuPercent: host.CpuPercent ?? 0,
    IOMaximumIOps: host.IOMaximumIOps ?? 0,
    IOMaximumBandwidth: host.IOMaximumBandwidth ?? 0,
    Mounts: nonEmpty(host.Mounts),
    MaskedPaths: host.MaskedPaths ?? (unmasked ? null : [...DEFAULT_MASKED_PATHS]),
    ReadonlyPaths: host.ReadonlyPaths ?? (unmasked ? null : [...DEFAULT_READONLY_PATHS]),
    Init: host.Init ?? undefined,
  };
  for (const key of Object.keys(view)) if (view[key] === undefined) delete view[key];
  return view as HostConfig;
}

/**
 * dockerd's generateSecurityOpt: a privileged container, or one in the host's IPC or PID
 * namespace, gets `label=disable` unless the client chose a label itself.
 */
function securityOptView(host: HostConfig): string[] | null {
  const opts = host.SecurityOpt ?? null;
  const sharesHost = host.Privileged === true || host.IpcMode === 'host' || host.PidMode === 'host';
  if (!sharesHost || (opts ?? []).some((opt) => opt.split('=')[0] === 'label')) return opts;
  return [...(opts ?? []), 'label=disable'];
}

/** True when --security-opt systempaths=unconfined drops the masks (a bad option masks nothing away). */
function parseSecurityOptionsSafe(opts: readonly string[]): boolean {
  try {
    return parseSecurityOptions(opts).unmaskSystemPaths;
  } catch {
    return false;
  }
}
