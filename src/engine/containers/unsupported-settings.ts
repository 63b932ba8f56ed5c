import type { ContainerConfig, HostConfig } from '../../api/types/containers';

/**
 * Settings berth accepts but does not apply yet. Create answers with a warning naming each one
 * set (the docker CLI prints them as "WARNING: ..."), so a client does not wait for a port or a
 * health status that never comes. Zero values, which clients send by default, are not "set".
 */

const isSet = (value: unknown): boolean => {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
};

/** Host settings that do nothing in berth today, with what the user should know. */
const IGNORED_HOST_FIELDS: [keyof HostConfig, string][] = [
  ['DeviceRequests', 'no device (GPU) is requested'],
  ['KernelMemory', 'no kernel memory limit is set'],
  ['KernelMemoryTCP', 'no kernel TCP memory limit is set'],
  ['CpuRealtimePeriod', 'no realtime period is set'],
  ['CpuRealtimeRuntime', 'no realtime runtime is set'],
  ['BlkioWeightDevice', 'no per-device I/O weight is set'],
  ['BlkioDeviceReadBps', 'no I/O limit is set'],
  ['BlkioDeviceWriteBps', 'no I/O limit is set'],
  ['BlkioDeviceReadIOps', 'no I/O limit is set'],
  ['BlkioDeviceWriteIOps', 'no I/O limit is set'],
  ['StorageOpt', 'the writable layer has no size limit'],
];

export function unsupportedSettingWarnings(config: ContainerConfig, host: HostConfig): string[] {
  const warnings: string[] = [];
  if (host.OomKillDisable === true) warnings.push('OomKillDisable is not supported yet: the OOM killer stays enabled');
  if (host.MemorySwappiness !== undefined && host.MemorySwappiness !== null && host.MemorySwappiness !== -1) {
    warnings.push('MemorySwappiness is not supported yet: the kernel default applies');
  }
  for (const [field, value] of namespaceModesRunPrivate(host)) {
    warnings.push(`${field} ${JSON.stringify(value)} is not supported yet: the container gets a namespace of its own`);
  }
  for (const [field, consequence] of IGNORED_HOST_FIELDS) {
    if (isSet(host[field])) warnings.push(`${String(field)} is not supported yet and is ignored: ${consequence}`);
  }
  return warnings;
}

/**
 * Namespace modes berth runs as private today: only "host" (and the private defaults) are
 * applied (a shareable IPC namespace is a private one nobody joins yet), so "container:<id>",
 * IPC "none" (no /dev/shm) and a private cgroup namespace are named.
 */
function namespaceModesRunPrivate(host: HostConfig): [string, string][] {
  const applied: Record<string, string[]> = {
    IpcMode: ['', 'private', 'shareable', 'host'],
    PidMode: ['', 'host'],
    UTSMode: ['', 'host'],
    UsernsMode: ['', 'host'],
    CgroupnsMode: ['', 'host'],
  };
  const modes: [string, string | undefined][] = [
    ['IpcMode', host.IpcMode],
    ['PidMode', host.PidMode],
    ['UTSMode', host.UTSMode],
    ['UsernsMode', host.UsernsMode],
    ['CgroupnsMode', host.CgroupnsMode],
  ];
  return modes.filter((m): m is [string, string] => typeof m[1] === 'string' && !applied[m[0]].includes(m[1]));
}
