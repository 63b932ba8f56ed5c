import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCgroupStats } from './cgroup-stats';

/**
 * The cgroup v2 (unified) files of one container in the kernel's formats (kernel 6.1's
 * memory.stat and cpu.stat keys). This host runs cgroup v1, so the set was written in those
 * formats rather than recorded from a live v2 container.
 */
const FIXTURE = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'cgroup-v2');

/** A runc state dir whose state.json points the unified cgroup ("" key, as runc on pure v2) at `dir`. */
async function withV2State<T>(fn: (stateDir: string, cgroupDir: string) => Promise<T>): Promise<T> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'cg2-'));
  try {
    const cgroupDir = path.join(root, 'cgroup');
    await fs.cp(FIXTURE, cgroupDir, { recursive: true });
    await fs.writeFile(path.join(root, 'state.json'), JSON.stringify({ cgroup_paths: { '': cgroupDir } }));
    return await fn(root, cgroupDir);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

test('cgroup v2: memory, CPU (usec to ns), pids, io.stat in the v1 shape the Docker stats are built from', async () => {
  const stats = await withV2State((dir) => readCgroupStats(dir, 'c1'));
  assert.equal(stats.memory.usage, 28311552);
  assert.equal(stats.memory.maxUsage, 41943040);
  assert.equal(stats.memory.limit, 67108864);
  // v2 keys as they are: the docker CLI subtracts inactive_file on v2 (total_inactive_file on v1).
  assert.equal(stats.memory.stats.inactive_file, 10485760);
  assert.equal(stats.memory.stats.anon, 8388608);
  assert.equal(stats.memory.stats.pgfault, 5181);
  assert.deepEqual(stats.cpu, {
    totalNs: 1520347000,
    perCpuNs: [],
    userNs: 1204112000,
    systemNs: 316235000,
    throttling: { periods: 40, throttledPeriods: 12, throttledTimeNs: 350112000 },
  });
  assert.deepEqual(stats.pids, { current: 3, limit: undefined });
  assert.deepEqual(stats.blkio.serviceBytes, [
    { major: 8, minor: 0, op: 'read', value: 1056768 },
    { major: 8, minor: 0, op: 'write', value: 8192 },
    { major: 253, minor: 0, op: 'read', value: 4096 },
    { major: 253, minor: 0, op: 'write', value: 0 },
  ]);
  assert.deepEqual(stats.blkio.serviced.map((e) => e.value), [29, 2, 1, 0]);
  assert.ok(stats.host.onlineCpus > 0 && stats.host.cpuNs > 0);
});

test('cgroup v2: "max" reads as no limit; a missing file reads as nothing rather than failing', async () => {
  const stats = await withV2State(async (dir, cgroupDir) => {
    await fs.writeFile(path.join(cgroupDir, 'memory.max'), 'max\n');
    await fs.writeFile(path.join(cgroupDir, 'pids.max'), '64\n');
    await fs.rm(path.join(cgroupDir, 'memory.peak'));
    await fs.rm(path.join(cgroupDir, 'io.stat'));
    return readCgroupStats(dir, 'c1');
  });
  assert.equal(stats.memory.limit, undefined);
  assert.equal(stats.memory.maxUsage, undefined);
  assert.equal(stats.pids.limit, 64);
  assert.deepEqual(stats.blkio, { serviceBytes: [], serviced: [] });
});

test('a task without a state dir is not running (NotFound)', async () => {
  await assert.rejects(readCgroupStats(path.join(os.tmpdir(), 'no-such-runc-state'), 'c1'), /no cgroups for task c1: it is not running/);
});
