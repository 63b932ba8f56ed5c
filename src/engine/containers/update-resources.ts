import { conflict } from '../../errors';
import type { ContainerUpdateRequest } from '../../api/types/containers';
import type { HostConfig } from './create-config';

/**
 * A container's HostConfig after `update`, as moby's Container.UpdateContainer: a zero (or
 * empty) value in the request leaves the setting as it is — the docker CLI sends every field,
 * zero for the flags not given — PidsLimit changes when present, the restart policy when it
 * is named. Nano CPUs and a CFS period/quota exclude each other; a memory limit above the
 * swap limit set before needs a new swap limit.
 */
export function mergeUpdate(id: string, current: HostConfig, request: ContainerUpdateRequest): HostConfig {
  const fail = (message: string) => conflict(`Cannot update container ${id}: Conflicting options: ${message}`);
  const r = request;
  if ((r.NanoCpus ?? 0) > 0 && (current.CpuPeriod ?? 0) > 0) throw fail('Nano CPUs cannot be updated as CPU Period has already been set');
  if ((r.NanoCpus ?? 0) > 0 && (current.CpuQuota ?? 0) > 0) throw fail('Nano CPUs cannot be updated as CPU Quota has already been set');
  if ((r.CpuPeriod ?? 0) > 0 && (current.NanoCpus ?? 0) > 0) throw fail('CPU Period cannot be updated as NanoCPUs has already been set');
  if ((r.CpuQuota ?? 0) > 0 && (current.NanoCpus ?? 0) > 0) throw fail('CPU Quota cannot be updated as NanoCPUs has already been set');
  // The swap limit in force: dockerd records twice the memory at create where none was given,
  // berth leaves 0 and the spec applies twice the memory.
  const swapInForce = current.MemorySwap || (current.Memory ? current.Memory * 2 : 0);
  if ((r.Memory ?? 0) !== 0 && (r.Memory ?? 0) > swapInForce && !r.MemorySwap) {
    throw conflict(`Cannot update container ${id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`);
  }
  const next: HostConfig = { ...current };
  // A new memory limit keeps the swap limit that was in force (not twice the new limit).
  if ((r.Memory ?? 0) !== 0 && !r.MemorySwap && swapInForce !== 0) next.MemorySwap = swapInForce;
  const numbers = ['BlkioWeight', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'] as const;
  for (const field of numbers) {
    const value = r[field];
    if (typeof value === 'number' && value !== 0) next[field] = value;
  }
  if (r.CpusetCpus) next.CpusetCpus = r.CpusetCpus;
  if (r.CpusetMems) next.CpusetMems = r.CpusetMems;
  // 0 or below: unlimited, recorded as 0 (as dockerd's inspect shows it).
  if (r.PidsLimit !== undefined && r.PidsLimit !== null) next.PidsLimit = r.PidsLimit > 0 ? r.PidsLimit : 0;
  if (r.RestartPolicy?.Name) {
    if (current.AutoRemove && r.RestartPolicy.Name !== 'no') {
      throw conflict(`Cannot update container ${id}: Restart policy cannot be updated because AutoRemove is enabled for the container`);
    }
    next.RestartPolicy = { Name: r.RestartPolicy.Name, MaximumRetryCount: r.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  return next;
}
