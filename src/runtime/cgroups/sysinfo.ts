import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * What the host's cgroups can limit, read from /sys/fs/cgroup like moby's pkg/sysinfo. Create
 * validation uses it to refuse or drop what cannot be applied, and /info reports it.
 */
export interface SysInfo {
  cgroupVersion: '1' | '2';
  cgroupDriver: 'cgroupfs';
  memoryLimit: boolean;
  swapLimit: boolean;
  kernelMemory: boolean;
  memoryReservation: boolean;
  memorySwappiness: boolean;
  oomKillDisable: boolean;
  pidsLimit: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  cpuRealtime: boolean;
  cpuset: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioThrottle: boolean;
  /** CPUs and memory nodes a container may be pinned to ("0-1"). */
  cpus: string;
  mems: string;
  /** CPUs this process may run on (Go's runtime.NumCPU). */
  ncpu: number;
}

export function readSysInfo(root = '/sys/fs/cgroup'): SysInfo {
  const base = { cgroupDriver: 'cgroupfs' as const, ncpu: os.availableParallelism() };
  if (existsSync(path.join(root, 'cgroup.controllers'))) {
    const controllers = new Set(read(path.join(root, 'cgroup.controllers')).split(/\s+/));
    const has = (c: string) => controllers.has(c);
    return {
      ...base,
      cgroupVersion: '2',
      memoryLimit: has('memory'),
      swapLimit: has('memory'),
      kernelMemory: false,
      memoryReservation: has('memory'),
      memorySwappiness: false,
      oomKillDisable: false,
      pidsLimit: has('pids'),
      cpuShares: has('cpu'),
      cpuCfs: has('cpu'),
      cpuRealtime: false,
      cpuset: has('cpuset'),
      blkioWeight: has('io'),
      blkioWeightDevice: has('io'),
      blkioThrottle: has('io'),
      cpus: read(path.join(root, 'cpuset.cpus.effective')),
      mems: read(path.join(root, 'cpuset.mems.effective')),
    };
  }
  const has = (controller: string, file: string) => existsSync(path.join(root, controller, file));
  return {
    ...base,
    cgroupVersion: '1',
    memoryLimit: has('memory', 'memory.limit_in_bytes'),
    swapLimit: has('memory', 'memory.memsw.limit_in_bytes'),
    kernelMemory: has('memory', 'memory.kmem.limit_in_bytes'),
    memoryReservation: has('memory', 'memory.soft_limit_in_bytes'),
    memorySwappiness: has('memory', 'memory.swappiness'),
    oomKillDisable: has('memory', 'memory.oom_control'),
    pidsLimit: has('pids', 'pids.max') || has('pids', 'cgroup.procs'),
    cpuShares: has('cpu', 'cpu.shares'),
    cpuCfs: has('cpu', 'cpu.cfs_quota_us'),
    cpuRealtime: has('cpu', 'cpu.rt_runtime_us'),
    cpuset: has('cpuset', 'cpuset.cpus'),
    blkioWeight: has('blkio', 'blkio.weight'),
    blkioWeightDevice: has('blkio', 'blkio.weight_device'),
    blkioThrottle: has('blkio', 'blkio.throttle.read_bps_device'),
    cpus: read(path.join(root, 'cpuset', 'cpuset.effective_cpus')) || read(path.join(root, 'cpuset', 'cpuset.cpus')),
    mems: read(path.join(root, 'cpuset', 'cpuset.effective_mems')) || read(path.join(root, 'cpuset', 'cpuset.mems')),
  };
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Parses a cpuset list ("0-3,7") like moby's parsers.ParseUintList; throws `invalid format: X`.
 * An empty list is empty.
 */
export function parseCpuList(list: string): Set<number> {
  const result = new Set<number>();
  if (list === '') return result;
  for (const part of list.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!range) throw new Error(`invalid format: ${list}`);
    const from = Number(range[1]);
    const to = range[2] === undefined ? from : Number(range[2]);
    if (to < from) throw new Error(`invalid format: ${list}`);
    for (let i = from; i <= to; i++) result.add(i);
  }
  return result;
}
