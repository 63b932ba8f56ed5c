import { defineCommand, StatusError } from '../../command';
import type { ContainerUpdateRequest } from '../../../api/types/containers';
import { parseMemoryBytes } from '../../output/units';
import { forEachName } from '../common';
import { parseCpus, parseRestart } from './create-options';

const FLAGS = {
  'blkio-weight': { kind: 'int', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  'cpu-period': { kind: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  'cpu-quota': { kind: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  'cpu-rt-period': { kind: 'int', description: 'Limit the CPU real-time period in microseconds' },
  'cpu-rt-runtime': { kind: 'int', description: 'Limit the CPU real-time runtime in microseconds' },
  'cpu-shares': { kind: 'int', short: 'c', description: 'CPU shares (relative weight)' },
  cpus: { kind: 'string', description: 'Number of CPUs', valueName: 'decimal' },
  'cpuset-cpus': { kind: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  'cpuset-mems': { kind: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  'kernel-memory': { kind: 'string', description: 'Kernel memory limit (deprecated)', valueName: 'bytes' },
  memory: { kind: 'string', short: 'm', description: 'Memory limit', valueName: 'bytes' },
  'memory-reservation': { kind: 'string', description: 'Memory soft limit', valueName: 'bytes' },
  'memory-swap': { kind: 'string', description: "Swap limit equal to memory plus swap: -1 to enable unlimited swap", valueName: 'bytes' },
  'pids-limit': { kind: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
  restart: { kind: 'string', description: 'Restart policy to apply when a container exits' },
} as const;

function bytes(flag: string, value: string): number {
  try {
    return parseMemoryBytes(value);
  } catch {
    throw new StatusError(125, `invalid argument "${value}" for "${flag}" flag: invalid size: '${value}'`);
  }
}

/** docker/cli's update body: only the flags given (a zero leaves a setting as it is, to the daemon). */
export function buildUpdateRequest(flags: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['kind'] extends 'int' ? number : string }): ContainerUpdateRequest {
  const body: ContainerUpdateRequest = {};
  if (flags['blkio-weight'] !== undefined) body.BlkioWeight = flags['blkio-weight'];
  if (flags['cpu-period'] !== undefined) body.CpuPeriod = flags['cpu-period'];
  if (flags['cpu-quota'] !== undefined) body.CpuQuota = flags['cpu-quota'];
  if (flags['cpu-rt-period'] !== undefined) body.CpuRealtimePeriod = flags['cpu-rt-period'];
  if (flags['cpu-rt-runtime'] !== undefined) body.CpuRealtimeRuntime = flags['cpu-rt-runtime'];
  if (flags['cpu-shares'] !== undefined) body.CpuShares = flags['cpu-shares'];
  if (flags.cpus !== undefined) body.NanoCpus = parseCpus(flags.cpus);
  if (flags['cpuset-cpus'] !== undefined) body.CpusetCpus = flags['cpuset-cpus'];
  if (flags['cpuset-mems'] !== undefined) body.CpusetMems = flags['cpuset-mems'];
  if (flags['kernel-memory'] !== undefined) body.KernelMemory = bytes('--kernel-memory', flags['kernel-memory']);
  if (flags.memory !== undefined) body.Memory = bytes('--memory', flags.memory);
  if (flags['memory-reservation'] !== undefined) body.MemoryReservation = bytes('--memory-reservation', flags['memory-reservation']);
  if (flags['memory-swap'] !== undefined) body.MemorySwap = flags['memory-swap'] === '-1' ? -1 : bytes('--memory-swap', flags['memory-swap']);
  if (flags['pids-limit'] !== undefined) body.PidsLimit = flags['pids-limit'];
  if (flags.restart !== undefined) body.RestartPolicy = parseRestart(flags.restart);
  return body;
}

export default defineCommand({
  usage: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  minArgs: 1,
  flags: FLAGS,
  async run(ctx, flags, args) {
    const body = buildUpdateRequest(flags);
    if (Object.keys(body).length === 0) throw new StatusError(1, 'you must provide one or more flags when using this command');
    const client = await ctx.client();
    return forEachName(ctx, args, async (name) => {
      const result = await client.json<{ Warnings?: string[] | null }>('POST', `/containers/${encodeURIComponent(name)}/update`, { body });
      for (const warning of result.Warnings ?? []) ctx.err(`${warning}\n`);
    });
  },
});
