import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeUpdate } from './update-resources';

/** The docker CLI's body for `update --cpu-shares 256`: every field, zero for the flags not given. */
const CLI_BODY = { BlkioWeight: 0, CpuShares: 256, CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '', Memory: 0, MemoryReservation: 0, MemorySwap: 0, KernelMemory: 0, NanoCpus: 0, RestartPolicy: { Name: '' as const, MaximumRetryCount: 0 } };

test("zeros and an unnamed restart policy leave settings as they are (the docker CLI's body)", () => {
  const current = { Memory: 32 << 20, MemorySwap: 64 << 20, PidsLimit: 20, CpusetCpus: '0', RestartPolicy: { Name: 'unless-stopped' as const, MaximumRetryCount: 0 }, Binds: ['/a:/b'] };
  const next = mergeUpdate('c1', current, CLI_BODY);
  assert.deepEqual(next, { ...current, CpuShares: 256 });
});

test('set values replace; PidsLimit changes when present; a named policy replaces the old one', () => {
  const next = mergeUpdate('c1', { Memory: 32 << 20, PidsLimit: 20 }, { Memory: 48 << 20, MemorySwap: -1, PidsLimit: -1, CpusetCpus: '0-1', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
  assert.deepEqual(next, { Memory: 48 << 20, MemorySwap: -1, PidsLimit: 0, CpusetCpus: '0-1', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
  // As dockerd: a new memory limit alone keeps the swap limit in force (twice the first limit).
  assert.deepEqual(mergeUpdate('c1', { Memory: 32 << 20 }, { Memory: 48 << 20 }), { Memory: 48 << 20, MemorySwap: 64 << 20 });
});

test("moby's conflicts: nano CPUs against a CFS period or quota, memory above the swap set before, a policy with AutoRemove", () => {
  assert.throws(() => mergeUpdate('c1', { CpuPeriod: 50_000 }, { NanoCpus: 5e8 }), { message: 'Cannot update container c1: Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set', kind: 'Conflict' });
  assert.throws(() => mergeUpdate('c1', { NanoCpus: 5e8 }, { CpuQuota: 1000 }), /CPU Quota cannot be updated as NanoCPUs has already been set/);
  assert.throws(() => mergeUpdate('c1', { Memory: 32 << 20, MemorySwap: 64 << 20 }, { Memory: 100 << 20 }), /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
  assert.throws(() => mergeUpdate('c1', { Memory: 32 << 20 }, { Memory: 100 << 20 }), /Memory limit should be smaller/, 'twice the memory is the swap limit in force');
  assert.throws(() => mergeUpdate('c1', {}, { Memory: 64 << 20 }), /Memory limit should be smaller/, 'as dockerd: no swap limit set is 0');
  assert.deepEqual(mergeUpdate('c1', { Memory: 32 << 20, MemorySwap: 64 << 20 }, { Memory: 100 << 20, MemorySwap: 200 << 20 }), { Memory: 100 << 20, MemorySwap: 200 << 20 });
  assert.throws(() => mergeUpdate('c1', { AutoRemove: true }, { RestartPolicy: { Name: 'always' } }), /Restart policy cannot be updated because AutoRemove is enabled for the container/);
  assert.deepEqual(mergeUpdate('c1', { AutoRemove: true }, { RestartPolicy: { Name: 'no' } }).RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
});
