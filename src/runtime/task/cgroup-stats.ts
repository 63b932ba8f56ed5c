import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { notFound } from '../../errors';
import type { BlkioEntry, TaskStats } from './types';
import { readTaskStateFile } from '../runc/task-state-file';

/** The cgroup dirs the runtime made, from its state: {"memory": "/sys/fs/cgroup/memory/berth/<id>", ...} (pure v2: {"": dir}). */
async function cgroupPaths(runtimeStateDir: string, id: string): Promise<Record<string, string>> {
  const state = await readTaskStateFile(runtimeStateDir);
  if (!state) throw notFound(`no cgroups for task ${id}: it is not running`);
  return state.cgroupPaths;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function readNumber(file: string): Promise<number | undefined> {
  const text = (await readText(file))?.trim();
  if (text === undefined || text === '' || text === 'max') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** "key value" lines (memory.stat, cpu.stat) as numbers. */
function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && Number.isFinite(Number(value))) out[key] = Number(value);
  }
  return out;
}

/** v1 blkio lines "8:0 Read 4096" (the closing "Total N" line has no device and is left out). */
function blkioEntries(text: string | undefined): BlkioEntry[] {
  const entries: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [device, op, value] = line.trim().split(/\s+/);
    const match = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!match || !op || value === undefined) continue;
    entries.push({ major: Number(match[1]), minor: Number(match[2]), op, value: Number(value) });
  }
  return entries;
}

/** v2 io.stat lines "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." in v1's shape. */
function ioStatEntries(text: string | undefined): { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] } {
  const serviceBytes: BlkioEntry[] = [];
  const serviced: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    const match = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!match) continue;
    const values = Object.fromEntries(pairs.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const at = { major: Number(match[1]), minor: Number(match[2]) };
    serviceBytes.push({ ...at, op: 'read', value: values.rbytes ?? 0 }, { ...at, op: 'write', value: values.wbytes ?? 0 });
    serviced.push({ ...at, op: 'read', value: values.rios ?? 0 }, { ...at, op: 'write', value: values.wios ?? 0 });
  }
  return { serviceBytes, serviced };
}

/** v1 reports "no limit" as a huge page-aligned number. */
const NO_LIMIT_V1 = 2 ** 62;
/** cpuacct.stat and /proc/stat count in USER_HZ ticks, 100 per second on Linux. */
const NS_PER_TICK = 1e9 / 100;

/** The host's total CPU time (the first /proc/stat line, as moby's getSystemCPUUsage) and its online CPUs. */
async function hostCpu(): Promise<TaskStats['host']> {
  const text = (await readText('/proc/stat')) ?? '';
  let cpuNs = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      // user nice system idle iowait irq softirq steal (guest time is already in user).
      cpuNs = line.trim().split(/\s+/).slice(1, 9).reduce((sum, ticks) => sum + Number(ticks), 0) * NS_PER_TICK;
    } else if (/^cpu\d/.test(line)) {
      onlineCpus++;
    }
  }
  return { cpuNs, onlineCpus: onlineCpus || os.cpus().length };
}

/** Memory, CPU, pids and block I/O counters of a runc container, from its cgroups (v1, or v2 unified). */
export async function readCgroupStats(runcStateDir: string, id: string): Promise<TaskStats> {
  const paths = await cgroupPaths(runcStateDir, id);
  const readAt = Date.now();
  const host = await hostCpu();
  // A hybrid host lists the (controller-less) unified dir under "" beside the v1 ones.
  const unified = paths.memory === undefined ? paths[''] : undefined;
  if (unified !== undefined) {
    const stat = keyValues(await readText(path.join(unified, 'cpu.stat')));
    return {
      readAt,
      host,
      memory: {
        usage: (await readNumber(path.join(unified, 'memory.current'))) ?? 0,
        maxUsage: await readNumber(path.join(unified, 'memory.peak')),
        limit: await readNumber(path.join(unified, 'memory.max')),
        stats: keyValues(await readText(path.join(unified, 'memory.stat'))),
      },
      cpu: {
        totalNs: (stat.usage_usec ?? 0) * 1000,
        perCpuNs: [],
        userNs: (stat.user_usec ?? 0) * 1000,
        systemNs: (stat.system_usec ?? 0) * 1000,
        throttling: { periods: stat.nr_periods ?? 0, throttledPeriods: stat.nr_throttled ?? 0, throttledTimeNs: (stat.throttled_usec ?? 0) * 1000 },
      },
      pids: { current: (await readNumber(path.join(unified, 'pids.current'))) ?? 0, limit: await readNumber(path.join(unified, 'pids.max')) },
      blkio: ioStatEntries(await readText(path.join(unified, 'io.stat'))),
    };
  }
  const memory = paths.memory;
  const cpuacct = paths.cpuacct ?? paths.cpu;
  const cpu = paths.cpu ?? paths.cpuacct;
  const pids = paths.pids;
  const blkio = paths.blkio;
  const limit = memory ? await readNumber(path.join(memory, 'memory.limit_in_bytes')) : undefined;
  const pidsLimit = pids ? await readNumber(path.join(pids, 'pids.max')) : undefined;
  const ticks = keyValues(cpuacct ? await readText(path.join(cpuacct, 'cpuacct.stat')) : undefined);
  const throttling = keyValues(cpu ? await readText(path.join(cpu, 'cpu.stat')) : undefined);
  // CFQ/BFQ keep their own counters; the throttle files count for every scheduler (containerd reads them likewise).
  const blkioFile = async (name: string) => (blkio ? ((await readText(path.join(blkio, `blkio.throttle.${name}`))) ?? (await readText(path.join(blkio, `blkio.${name}`)))) : undefined);
  return {
    readAt,
    host,
    memory: {
      usage: (memory && (await readNumber(path.join(memory, 'memory.usage_in_bytes')))) || 0,
      maxUsage: memory ? await readNumber(path.join(memory, 'memory.max_usage_in_bytes')) : undefined,
      limit: limit !== undefined && limit < NO_LIMIT_V1 ? limit : undefined,
      failcnt: memory ? await readNumber(path.join(memory, 'memory.failcnt')) : undefined,
      stats: memory ? keyValues(await readText(path.join(memory, 'memory.stat'))) : {},
    },
    cpu: {
      totalNs: (cpuacct && (await readNumber(path.join(cpuacct, 'cpuacct.usage')))) || 0,
      perCpuNs: cpuacct ? ((await readText(path.join(cpuacct, 'cpuacct.usage_percpu'))) ?? '').trim().split(/\s+/).filter(Boolean).map(Number) : [],
      userNs: (ticks.user ?? 0) * NS_PER_TICK,
      systemNs: (ticks.system ?? 0) * NS_PER_TICK,
      throttling: { periods: throttling.nr_periods ?? 0, throttledPeriods: throttling.nr_throttled ?? 0, throttledTimeNs: throttling.throttled_time ?? 0 },
    },
    pids: { current: (pids && (await readNumber(path.join(pids, 'pids.current')))) || 0, limit: pidsLimit },
    blkio: { serviceBytes: blkioEntries(await blkioFile('io_service_bytes_recursive')), serviced: blkioEntries(await blkioFile('io_serviced_recursive')) },
  };
}
