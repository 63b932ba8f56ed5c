import type { ParsedFlags } from '../../args/parser';
import type { ContainerCreateRequest, EndpointSettings, HealthConfig, HostConfig } from '../../../client/types';
import { parseMemoryBytes } from '../../output/units';
import { StatusError } from '../../command';
import {
  flagError,
  parseDevice,
  parseDeviceCgroupRule,
  parseDurationNs,
  parseGpus,
  parseKeyValues,
  parseMount,
  parseSysctls,
  parseThrottleDevice,
  parseUlimit,
  parseWeightDevice,
  readLabelFile,
} from './create-flag-parsers';

/**
 * The rest of docker's run/create flags that the Engine API can express: resources and their
 * devices, namespaces, health checks, mounts, network endpoint settings. Each maps onto the
 * create body the way docker/cli's parse() does.
 */
export const EXTRA_CREATE_FLAGS = {
  annotation: { kind: 'strings', description: 'Add an annotation to the container (passed through to the OCI runtime)' },
  'blkio-weight': { kind: 'int', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable' },
  'blkio-weight-device': { kind: 'strings', description: 'Block IO weight (relative device weight)' },
  'cgroup-parent': { kind: 'string', description: 'Optional parent cgroup for the container' },
  cgroupns: { kind: 'string', description: "Cgroup namespace to use (host|private)" },
  cidfile: { kind: 'string', description: 'Write the container ID to the file' },
  'cpu-count': { kind: 'int', description: 'CPU count (Windows only)' },
  'cpu-percent': { kind: 'int', description: 'CPU percent (Windows only)' },
  'cpu-period': { kind: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  'cpu-quota': { kind: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  'cpu-rt-period': { kind: 'int', description: 'Limit CPU real-time period in microseconds' },
  'cpu-rt-runtime': { kind: 'int', description: 'Limit CPU real-time runtime in microseconds' },
  'cpuset-mems': { kind: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  device: { kind: 'strings', description: 'Add a host device to the container' },
  'device-cgroup-rule': { kind: 'strings', description: 'Add a rule to the cgroup allowed devices list' },
  'device-read-bps': { kind: 'strings', description: 'Limit read rate (bytes per second) from a device' },
  'device-read-iops': { kind: 'strings', description: 'Limit read rate (IO per second) from a device' },
  'device-write-bps': { kind: 'strings', description: 'Limit write rate (bytes per second) to a device' },
  'device-write-iops': { kind: 'strings', description: 'Limit write rate (IO per second) to a device' },
  'dns-option': { kind: 'strings', description: 'Set DNS options' },
  'dns-search': { kind: 'strings', description: 'Set custom DNS search domains' },
  domainname: { kind: 'string', description: 'Container NIS domain name' },
  gpus: { kind: 'string', description: "GPU devices to add to the container ('all' to pass all GPUs)", valueName: 'gpu-request' },
  'group-add': { kind: 'strings', description: 'Add additional groups to join' },
  'health-cmd': { kind: 'string', description: 'Command to run to check health' },
  'health-interval': { kind: 'string', description: 'Time between running the check (ms|s|m|h)', valueName: 'duration' },
  'health-retries': { kind: 'int', description: 'Consecutive failures needed to report unhealthy' },
  'health-start-interval': { kind: 'string', description: 'Time between running the check during the start period (ms|s|m|h)', valueName: 'duration' },
  'health-start-period': { kind: 'string', description: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)', valueName: 'duration' },
  'health-timeout': { kind: 'string', description: 'Maximum time to allow one check to run (ms|s|m|h)', valueName: 'duration' },
  'io-maxbandwidth': { kind: 'string', description: 'Maximum IO bandwidth limit for the system drive (Windows only)', valueName: 'bytes' },
  'io-maxiops': { kind: 'int', description: 'Maximum IOps limit for the system drive (Windows only)' },
  ip: { kind: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  ip6: { kind: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  ipc: { kind: 'string', description: 'IPC mode to use' },
  isolation: { kind: 'string', description: 'Container isolation technology' },
  'kernel-memory': { kind: 'string', description: 'Kernel memory limit', valueName: 'bytes' },
  'label-file': { kind: 'strings', description: 'Read in a line delimited file of labels' },
  link: { kind: 'strings', description: 'Add link to another container' },
  'link-local-ip': { kind: 'strings', description: 'Container IPv4/IPv6 link-local addresses' },
  'mac-address': { kind: 'string', description: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  'memory-reservation': { kind: 'string', description: 'Memory soft limit', valueName: 'bytes' },
  'memory-swappiness': { kind: 'int', description: 'Tune container memory swappiness (0 to 100)' },
  mount: { kind: 'strings', description: 'Attach a filesystem mount to the container' },
  'network-alias': { kind: 'strings', description: 'Add network-scoped alias for the container' },
  'no-healthcheck': { kind: 'bool', description: 'Disable any container-specified HEALTHCHECK' },
  'oom-kill-disable': { kind: 'bool', description: 'Disable OOM Killer' },
  'oom-score-adj': { kind: 'int', description: "Tune host's OOM preferences (-1000 to 1000)" },
  pid: { kind: 'string', description: 'PID namespace to use' },
  'publish-all': { kind: 'bool', short: 'P', description: 'Publish all exposed ports to random ports' },
  runtime: { kind: 'string', description: 'Runtime to use for this container' },
  'storage-opt': { kind: 'strings', description: 'Storage driver options for the container' },
  sysctl: { kind: 'strings', description: 'Sysctl options' },
  ulimit: { kind: 'strings', description: 'Ulimit options' },
  userns: { kind: 'string', description: 'User namespace to use' },
  uts: { kind: 'string', description: 'UTS namespace to use' },
  'volume-driver': { kind: 'string', description: 'Optional volume driver for the container' },
  'volumes-from': { kind: 'strings', description: 'Mount volumes from the specified container(s)' },
  'use-api-socket': { kind: 'bool', description: 'Bind mount the daemon API socket at /var/run/docker.sock' },
  // No API field: berth verifies no image signatures, so there is nothing to disable.
  'disable-content-trust': { kind: 'bool', default: true, description: 'Skip image verification (berth has no content trust; accepted for docker compatibility)' },
} as const;

type ExtraFlags = ParsedFlags<typeof EXTRA_CREATE_FLAGS> & { network?: string };

const listOrNull = <T>(items: T[]): T[] | null => (items.length > 0 ? items : null);

function bytes(flag: string, value: string): number {
  try {
    return parseMemoryBytes(value);
  } catch {
    throw flagError(flag, value, `invalid size: '${value}'`);
  }
}

/** Adds the extra flags' settings to a create body built from the basic ones. */
export function applyExtraCreateFlags(flags: ExtraFlags, request: ContainerCreateRequest): void {
  refuseWindowsOnlyFlags(flags);
  const host: HostConfig = (request.HostConfig ??= {});
  const annotations = parseKeyValues(flags.annotation);
  if (Object.keys(annotations).length > 0) host.Annotations = annotations;
  if (flags['blkio-weight'] !== undefined) {
    const weight = flags['blkio-weight'];
    if (weight < 0 || weight > 65535) throw flagError('--blkio-weight', String(weight), `strconv.ParseUint: parsing "${weight}": value out of range`);
    host.BlkioWeight = weight;
  }
  host.BlkioWeightDevice = listOrNull(flags['blkio-weight-device'].map(parseWeightDevice));
  host.BlkioDeviceReadBps = listOrNull(flags['device-read-bps'].map((v) => parseThrottleDevice('--device-read-bps', v, 'bytes')));
  host.BlkioDeviceWriteBps = listOrNull(flags['device-write-bps'].map((v) => parseThrottleDevice('--device-write-bps', v, 'bytes')));
  host.BlkioDeviceReadIOps = listOrNull(flags['device-read-iops'].map((v) => parseThrottleDevice('--device-read-iops', v, 'iops')));
  host.BlkioDeviceWriteIOps = listOrNull(flags['device-write-iops'].map((v) => parseThrottleDevice('--device-write-iops', v, 'iops')));
  if (flags['cgroup-parent'] !== undefined) host.CgroupParent = flags['cgroup-parent'];
  if (flags.cgroupns !== undefined) {
    if (!['', 'host', 'private'].includes(flags.cgroupns)) throw new StatusError(125, `--cgroupns: invalid CGROUP mode: ${flags.cgroupns}`);
    host.CgroupnsMode = flags.cgroupns as HostConfig['CgroupnsMode'];
  }
  if (flags['cpu-period'] !== undefined) host.CpuPeriod = flags['cpu-period'];
  if (flags['cpu-quota'] !== undefined) host.CpuQuota = flags['cpu-quota'];
  if (flags['cpu-rt-period'] !== undefined) host.CpuRealtimePeriod = flags['cpu-rt-period'];
  if (flags['cpu-rt-runtime'] !== undefined) host.CpuRealtimeRuntime = flags['cpu-rt-runtime'];
  if (flags['cpuset-mems'] !== undefined) host.CpusetMems = flags['cpuset-mems'];
  host.Devices = listOrNull(flags.device.map(parseDevice));
  host.DeviceCgroupRules = listOrNull(flags['device-cgroup-rule'].map(parseDeviceCgroupRule));
  if (flags.gpus !== undefined) host.DeviceRequests = [parseGpus(flags.gpus)];
  host.DnsOptions = listOrNull(flags['dns-option']);
  host.DnsSearch = listOrNull(flags['dns-search']);
  host.GroupAdd = listOrNull(flags['group-add']);
  if (flags.ipc !== undefined) host.IpcMode = flags.ipc;
  if (flags.isolation !== undefined) host.Isolation = flags.isolation;
  if (flags['kernel-memory'] !== undefined) host.KernelMemory = bytes('--kernel-memory', flags['kernel-memory']);
  host.Links = listOrNull(flags.link);
  if (flags['memory-reservation'] !== undefined) host.MemoryReservation = bytes('--memory-reservation', flags['memory-reservation']);
  if (flags['memory-swappiness'] !== undefined) host.MemorySwappiness = flags['memory-swappiness'];
  const mounts = flags.mount.map(parseMount);
  if (mounts.length > 0) host.Mounts = mounts;
  if (flags['oom-kill-disable']) host.OomKillDisable = true;
  if (flags['oom-score-adj'] !== undefined) host.OomScoreAdj = flags['oom-score-adj'];
  if (flags.pid !== undefined) host.PidMode = flags.pid;
  if (flags['publish-all']) host.PublishAllPorts = true;
  if (flags.runtime !== undefined) host.Runtime = flags.runtime;
  const storageOpt = parseKeyValues(flags['storage-opt']);
  if (Object.keys(storageOpt).length > 0) host.StorageOpt = storageOpt;
  const sysctls = parseSysctls(flags.sysctl);
  if (Object.keys(sysctls).length > 0) host.Sysctls = sysctls;
  // As docker's UlimitOpt: one entry a name (the last given wins), sorted by name.
  const ulimits = new Map(flags.ulimit.map(parseUlimit).map((u) => [u.Name!, u]));
  host.Ulimits = listOrNull([...ulimits.values()].sort((a, b) => a.Name!.localeCompare(b.Name!)));
  if (flags.userns !== undefined) host.UsernsMode = flags.userns;
  if (flags.uts !== undefined) host.UTSMode = flags.uts;
  if (flags['volume-driver'] !== undefined) host.VolumeDriver = flags['volume-driver'];
  host.VolumesFrom = listOrNull(flags['volumes-from']);

  if (flags.domainname !== undefined) request.Domainname = flags.domainname;
  const fileLabels = parseKeyValues(flags['label-file'].flatMap(readLabelFile));
  // Labels given with -l win over those from a file, as in docker.
  if (Object.keys(fileLabels).length > 0) request.Labels = { ...fileLabels, ...(request.Labels ?? {}) };
  const health = healthConfig(flags);
  if (health) request.Healthcheck = health;
  const endpoint = endpointSettings(flags);
  if (endpoint) request.NetworkingConfig = { EndpointsConfig: { [flags.network ?? 'default']: endpoint } };
}

/**
 * Flags docker marks `ostype: windows`: the docker CLI refuses them against a Linux daemon
 * before sending anything, and every berth daemon is one.
 */
function refuseWindowsOnlyFlags(flags: ExtraFlags): void {
  const given = (['cpu-count', 'cpu-percent', 'io-maxbandwidth', 'io-maxiops'] as const).filter((name) => flags[name] !== undefined);
  if (given.length === 0) return;
  throw new StatusError(125, given.map((name) => `"--${name}" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux`).join('\n'));
}

/** docker/cli's health check flags: --no-healthcheck, or a CMD-SHELL probe with its timings. */
function healthConfig(flags: ExtraFlags): HealthConfig | undefined {
  const durations = {
    Interval: flags['health-interval'] === undefined ? 0 : parseDurationNs('--health-interval', flags['health-interval']),
    Timeout: flags['health-timeout'] === undefined ? 0 : parseDurationNs('--health-timeout', flags['health-timeout']),
    StartPeriod: flags['health-start-period'] === undefined ? 0 : parseDurationNs('--health-start-period', flags['health-start-period']),
    StartInterval: flags['health-start-interval'] === undefined ? 0 : parseDurationNs('--health-start-interval', flags['health-start-interval']),
  };
  const retries = flags['health-retries'] ?? 0;
  const cmd = flags['health-cmd'] ?? '';
  const anySetting = cmd !== '' || retries !== 0 || Object.values(durations).some((d) => d !== 0);
  if (flags['no-healthcheck']) {
    if (anySetting) throw new StatusError(125, '--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!anySetting) return undefined;
  const negative: [number, string][] = [
    [durations.Interval, '--health-interval'],
    [durations.Timeout, '--health-timeout'],
    [retries, '--health-retries'],
    [durations.StartPeriod, '--health-start-period'],
    [durations.StartInterval, '--health-start-interval'],
  ];
  for (const [value, flag] of negative) if (value < 0) throw new StatusError(125, `${flag} cannot be negative`);
  return { ...(cmd !== '' ? { Test: ['CMD-SHELL', cmd] } : {}), ...durations, Retries: retries };
}

/** --ip, --ip6, --link-local-ip, --network-alias and --mac-address: the endpoint on --network. */
function endpointSettings(flags: ExtraFlags): EndpointSettings | undefined {
  const ipam = {
    ...(flags.ip !== undefined ? { IPv4Address: flags.ip } : {}),
    ...(flags.ip6 !== undefined ? { IPv6Address: flags.ip6 } : {}),
    ...(flags['link-local-ip'].length > 0 ? { LinkLocalIPs: flags['link-local-ip'] } : {}),
  };
  const endpoint: EndpointSettings = {};
  if (Object.keys(ipam).length > 0) endpoint.IPAMConfig = ipam;
  if (flags['network-alias'].length > 0) endpoint.Aliases = flags['network-alias'];
  if (flags['mac-address'] !== undefined) endpoint.MacAddress = flags['mac-address'];
  return Object.keys(endpoint).length > 0 ? endpoint : undefined;
}
