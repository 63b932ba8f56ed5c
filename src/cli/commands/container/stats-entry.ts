import type { ContainerStatsResponse } from '../../../client/types';
import { bytesSize, humanSize } from '../../output/units';

export const STATS_DEFAULT_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
export const STATS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Container: 'CONTAINER',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

/** What docker stats computes from one sample (cli/command/container/stats_helpers.go). */
export interface StatsNumbers {
  cpuPercent: number;
  memory: number;
  memoryLimit: number;
  memoryPercent: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

export function statsNumbers(s: ContainerStatsResponse): StatsNumbers {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  const cpuPercent = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
  // The page cache that could be dropped is not "used" (v1: total_inactive_file, v2: inactive_file).
  const usage = s.memory_stats.usage ?? 0;
  const stats = s.memory_stats.stats ?? {};
  const inactive = stats.total_inactive_file ?? stats.inactive_file;
  const memory = inactive !== undefined && inactive < usage ? usage - inactive : usage;
  const memoryLimit = s.memory_stats.limit ?? 0;
  let netRx = 0;
  let netTx = 0;
  for (const net of Object.values(s.networks ?? {})) {
    netRx += net.rx_bytes ?? 0;
    netTx += net.tx_bytes ?? 0;
  }
  let blockRead = 0;
  let blockWrite = 0;
  for (const entry of s.blkio_stats.io_service_bytes_recursive ?? []) {
    const op = entry.op.toLowerCase();
    if (op === 'read') blockRead += entry.value;
    else if (op === 'write') blockWrite += entry.value;
  }
  return {
    cpuPercent,
    memory,
    memoryLimit,
    memoryPercent: memoryLimit !== 0 ? (memory / memoryLimit) * 100 : 0,
    netRx,
    netTx,
    blockRead,
    blockWrite,
    pids: s.pids_stats.current ?? 0,
  };
}

/** One row of `stats`, with docker's field names for --format. */
export class StatsEntry {
  constructor(
    /** What the user named (the Container column), or the id. */
    readonly Container: string,
    private readonly sample: ContainerStatsResponse | undefined,
    private readonly truncate: boolean,
  ) {}

  private get numbers(): StatsNumbers | undefined {
    return this.sample && statsNumbers(this.sample);
  }

  get ID(): string {
    const id = this.sample?.id ?? this.Container;
    return this.truncate ? id.slice(0, 12) : id;
  }

  get Name(): string {
    const name = this.sample?.name ?? '';
    return name.startsWith('/') ? name.slice(1) : name || '--';
  }

  get CPUPerc(): string {
    const n = this.numbers;
    return n ? `${n.cpuPercent.toFixed(2)}%` : '--';
  }

  get MemUsage(): string {
    const n = this.numbers;
    return n ? `${bytesSize(n.memory)} / ${bytesSize(n.memoryLimit)}` : '-- / --';
  }

  get MemPerc(): string {
    const n = this.numbers;
    return n ? `${n.memoryPercent.toFixed(2)}%` : '--';
  }

  get NetIO(): string {
    const n = this.numbers;
    return n ? `${humanSize(n.netRx, 3)} / ${humanSize(n.netTx, 3)}` : '--';
  }

  get BlockIO(): string {
    const n = this.numbers;
    return n ? `${humanSize(n.blockRead, 3)} / ${humanSize(n.blockWrite, 3)}` : '--';
  }

  get PIDs(): string {
    const n = this.numbers;
    return n ? String(n.pids) : '--';
  }

  toJSON(): Record<string, string> {
    const { ID, Container, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs } = this;
    return { BlockIO, CPUPerc, Container, ID, MemPerc, MemUsage, Name, NetIO, PIDs };
  }
}
