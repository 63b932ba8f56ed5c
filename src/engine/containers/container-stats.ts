import * as os from 'node:os';
import type { InterfaceStats } from './net-dev';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlkioStatEntry, ContainerStatsResponse, CpuStats } from '../../api/types/containers';
import type { TaskStats } from '../../runtime/task/types';
import { formatRfc3339Nano } from '../../runtime/monitor/log-reader';
import { ZERO_TIME } from './container-context';

/** moby's collection interval: a stream sends one sample a second. */
export const STATS_INTERVAL_MS = 1000;

/** One reading of a container: its counters while it runs, none otherwise. */
export interface StatsSample {
  name: string;
  id: string;
  stats?: TaskStats;
  /** Per-interface counters of its network namespace (none on the host's network). */
  networks?: Record<string, InterfaceStats>;
}

export interface StatsOptions {
  /** Keep sending a sample every second (docker stats); false: one answer. */
  stream: boolean;
  /** With stream=false: answer at once, without the second sample that fills precpu_stats. */
  oneShot: boolean;
  signal: AbortSignal;
}

/**
 * The samples of GET /containers/{id}/stats as moby sends them: a stream starts with empty
 * precpu_stats and then carries the previous sample in it; stream=false waits one interval
 * so precpu_stats is filled (docker stats --no-stream computes CPU % from the pair), unless
 * one-shot; a container that is not running answers with an empty sample.
 */
export async function* statsSamples(read: () => Promise<StatsSample>, options: StatsOptions): AsyncGenerator<ContainerStatsResponse> {
  try {
    yield* samples(read, options);
  } catch (err: unknown) {
    if (!options.signal.aborted) throw err; // the client left: nothing to tell
  }
}

async function* samples(read: () => Promise<StatsSample>, options: StatsOptions): AsyncGenerator<ContainerStatsResponse> {
  let previous: TaskStats | undefined;
  let first = await read();
  if (!options.stream && !options.oneShot && first.stats) {
    previous = first.stats;
    await sleep(STATS_INTERVAL_MS, undefined, { signal: options.signal });
    first = await read();
  }
  let sample: StatsSample = first;
  for (;;) {
    yield toDockerStats(sample, previous);
    if (!options.stream) return;
    previous = sample.stats;
    await sleep(STATS_INTERVAL_MS, undefined, { signal: options.signal });
    sample = await read();
  }
}

const noEntries = (entries: BlkioStatEntry[] | undefined) => (entries && entries.length > 0 ? entries : null);

function cpuStats(stats: TaskStats | undefined): CpuStats {
  if (!stats) {
    return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  }
  const { cpu, host } = stats;
  return {
    cpu_usage: {
      total_usage: cpu.totalNs,
      ...(cpu.perCpuNs.length > 0 ? { percpu_usage: cpu.perCpuNs } : {}),
      usage_in_kernelmode: cpu.systemNs,
      usage_in_usermode: cpu.userNs,
    },
    system_cpu_usage: host.cpuNs,
    online_cpus: host.onlineCpus,
    throttling_data: { periods: cpu.throttling.periods, throttled_periods: cpu.throttling.throttledPeriods, throttled_time: cpu.throttling.throttledTimeNs },
  };
}

const timeOf = (stats: TaskStats | undefined) => (stats ? formatRfc3339Nano(BigInt(stats.readAt) * 1_000_000n) : ZERO_TIME);

/** moby's StatsJSON from a sample (and the one before it, for precpu_stats). */
export function toDockerStats(sample: StatsSample, previous: TaskStats | undefined): ContainerStatsResponse {
  const stats = sample.stats;
  // moby: without a limit, the machine's memory is the limit.
  const machineMemory = os.totalmem();
  const limit = stats?.memory.limit;
  return {
    read: timeOf(stats),
    preread: timeOf(previous),
    pids_stats: stats ? { ...(stats.pids.current ? { current: stats.pids.current } : {}), ...(stats.pids.limit ? { limit: stats.pids.limit } : {}) } : {},
    blkio_stats: {
      io_service_bytes_recursive: noEntries(stats?.blkio.serviceBytes),
      io_serviced_recursive: noEntries(stats?.blkio.serviced),
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(stats),
    precpu_stats: cpuStats(previous),
    memory_stats: stats
      ? {
          usage: stats.memory.usage,
          ...(stats.memory.maxUsage ? { max_usage: stats.memory.maxUsage } : {}),
          stats: stats.memory.stats,
          ...(stats.memory.failcnt ? { failcnt: stats.memory.failcnt } : {}),
          limit: limit !== undefined && limit <= machineMemory ? limit : machineMemory,
        }
      : {},
    name: sample.name,
    id: sample.id,
    ...(stats && sample.networks && Object.keys(sample.networks).length > 0 ? { networks: { ...sample.networks } } : {}),
  };
}
