import * as path from 'node:path';
import { invalidArgument, messageOf } from '../../errors';
import type { ContainerConfig, HostConfig, Resources } from '../../api/types/containers';
import { parseCpuList, readSysInfo, type SysInfo } from '../../runtime/cgroups/sysinfo';
import { verifyRunOptions } from './verify-run-options';

/**
 * The checks dockerd makes at create and update (moby's verifyContainerSettings and
 * verifyPlatformContainerResources), with its messages, so a bad value is a 400 at create and
 * never a 500 from runc at start. Like dockerd, a limit the host cannot apply is dropped with
 * a warning, and accepted values are normalized the way dockerd stores them.
 */

const MIN_MEMORY = 6 * 1024 * 1024;
/** moby's container.MinimumDuration (1 ms) for health check durations, in nanoseconds. */
const MIN_DURATION_NS = 1_000_000;

let hostInfo: SysInfo | undefined;
/** The host's cgroup facts, read once per daemon. */
export function hostSysInfo(): SysInfo {
  hostInfo ??= readSysInfo();
  return hostInfo;
}

/** Checks a create request; adjusts `host` in place as dockerd does and returns its warnings. */
export function verifyCreateSettings(config: ContainerConfig, host: HostConfig, sys: SysInfo = hostSysInfo()): string[] {
  verifyConfig(config);
  verifyMounts(host);
  verifyRunOptions(host);
  const warnings = verifyResources(host, sys, false);
  if ((host.ShmSize ?? 0) < 0) throw invalidArgument('SHM size can not be less than 0');
  const oomScoreAdj = host.OomScoreAdj ?? 0;
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) throw invalidArgument(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  if (host.NetworkMode === 'host' && Object.keys(host.PortBindings ?? {}).length > 0) warnings.push('Published ports are discarded when using host network mode');
  return warnings;
}

/** Checks a resource update (POST /containers/{id}/update) against the merged result. */
export function verifyUpdateSettings(resources: Resources, sys: SysInfo = hostSysInfo()): string[] {
  return verifyResources(resources, sys, true);
}

function verifyConfig(config: ContainerConfig): void {
  if (config.WorkingDir && !path.isAbsolute(config.WorkingDir)) {
    throw invalidArgument(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  const health = config.Healthcheck;
  if (health) {
    for (const field of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
      const value = health[field] ?? 0;
      if (value !== 0 && value < MIN_DURATION_NS) throw invalidArgument(`${field} in Healthcheck cannot be less than 1ms`);
    }
    if ((health.Retries ?? 0) < 0) throw invalidArgument('Retries in Healthcheck cannot be negative');
  }
}

/** moby's mount parser: nothing may be mounted over the container's root. */
function verifyMounts(host: HostConfig): void {
  for (const bind of host.Binds ?? []) {
    const parts = bind.split(':');
    if (parts.length >= 2 && path.posix.normalize(parts[1]!) === '/') {
      throw invalidArgument(`invalid volume specification: '${bind}': invalid mount config for type "bind": invalid specification: destination can't be '/'`);
    }
  }
  for (const mount of host.Mounts ?? []) {
    if (mount.Target !== undefined && mount.Target !== '' && path.posix.normalize(mount.Target) === '/') {
      throw invalidArgument(`invalid mount config for type "${mount.Type ?? ''}": invalid specification: destination can't be '/'`);
    }
  }
}

function verifyResources(r: Resources, sys: SysInfo, update: boolean): string[] {
  const warnings: string[] = [];
  if (r.MemorySwappiness === -1) r.MemorySwappiness = null;

  const memory = r.Memory ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (memory > 0 && !sys.memoryLimit) {
    warnings.push('Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    r.Memory = 0;
    r.MemorySwap = -1;
  }
  if ((r.Memory ?? 0) > 0 && r.MemorySwap !== -1 && !sys.swapLimit) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    r.MemorySwap = -1;
  }
  const swap = r.MemorySwap ?? 0;
  if ((r.Memory ?? 0) > 0 && swap > 0 && swap < (r.Memory ?? 0)) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if ((r.Memory ?? 0) === 0 && swap > 0 && !update) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (r.MemorySwappiness !== undefined && r.MemorySwappiness !== null) {
    if (r.MemorySwappiness < 0 || r.MemorySwappiness > 100) throw invalidArgument(`Invalid value: ${r.MemorySwappiness}, valid memory swappiness range is 0-100`);
  }
  const reservation = r.MemoryReservation ?? 0;
  if (reservation > 0 && reservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if ((r.Memory ?? 0) > 0 && reservation > 0 && (r.Memory ?? 0) < reservation) {
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if ((r.KernelMemory ?? 0) > 0 && (r.KernelMemory ?? 0) < MIN_MEMORY) throw invalidArgument('Minimum kernel memory limit allowed is 6MB');
  if (r.OomKillDisable === true && (r.Memory ?? 0) === 0) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  if (r.PidsLimit !== undefined && r.PidsLimit !== null && r.PidsLimit <= 0) r.PidsLimit = null; // 0 and -1 mean unlimited

  const nanoCpus = r.NanoCpus ?? 0;
  if (nanoCpus > 0 && (r.CpuPeriod ?? 0) > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nanoCpus > 0 && (r.CpuQuota ?? 0) > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nanoCpus > 0 && !sys.cpuCfs) throw invalidArgument('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
  if (nanoCpus < 0 || nanoCpus > sys.ncpu * 1e9) {
    throw invalidArgument(`Range of CPUs is from 0.01 to ${sys.ncpu}.00, as there are only ${sys.ncpu} CPUs available`);
  }
  if ((r.CpuShares ?? 0) > 0 && !sys.cpuShares) {
    warnings.push('Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.');
    r.CpuShares = 0;
  }
  const period = r.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1_000_000)) throw invalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  const quota = r.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw invalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if ((r.CpuPercent ?? 0) > 0) {
    warnings.push('linux does not support CPU percent. Percent discarded.');
    r.CpuPercent = 0;
  }

  checkCpuset(r.CpusetCpus ?? '', sys.cpus, 'cpus', 'CPUs');
  checkCpuset(r.CpusetMems ?? '', sys.mems, 'mems', 'memory nodes');

  const weight = r.BlkioWeight ?? 0;
  if (weight > 0 && !sys.blkioWeight) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    r.BlkioWeight = 0;
  }
  if ((r.BlkioWeight ?? 0) > 0 && ((r.BlkioWeight ?? 0) < 10 || (r.BlkioWeight ?? 0) > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if ((r.IOMaximumBandwidth ?? 0) !== 0 || (r.IOMaximumIOps ?? 0) !== 0) {
    throw invalidArgument('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  }
  return warnings;
}

/** moby's IsCpusetCpusAvailable / IsCpusetMemsAvailable, with their messages. */
function checkCpuset(requested: string, available: string, field: 'cpus' | 'mems', what: string): void {
  if (requested === '') return;
  let wanted: Set<number>;
  try {
    wanted = parseCpuList(requested);
  } catch (err: unknown) {
    throw invalidArgument(`Invalid value ${requested} for cpuset ${field}: ${messageOf(err)}`);
  }
  const have = parseCpuList(available);
  for (const n of wanted) {
    if (!have.has(n)) throw invalidArgument(`Requested ${what} are not available - requested ${requested}, available: ${available}`);
  }
}
