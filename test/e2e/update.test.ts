import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)') || (existsSync('/sys/fs/cgroup/memory') ? false : 'reads cgroup v1 files');

/** The limits a container sees in its cgroups (v1, as on this machine). */
const CGROUP_FILES = {
  memory: 'memory/memory.limit_in_bytes',
  memsw: 'memory/memory.memsw.limit_in_bytes',
  reservation: 'memory/memory.soft_limit_in_bytes',
  shares: 'cpu/cpu.shares',
  quota: 'cpu/cpu.cfs_quota_us',
  pids: 'pids/pids.max',
  cpuset: 'cpuset/cpuset.cpus',
};

/**
 * `update` on running containers, as dockerd does it (values recorded from a private dockerd):
 * the live cgroups change at once, inspect shows the merged HostConfig, the docker CLI's zero
 * fields leave settings alone, and dockerd's conflicts are refused with its messages.
 */
describe('update', { skip }, () => {
  let daemon: TestDaemon;
  const limits = async (name: string) => {
    const files = Object.values(CGROUP_FILES).map((f) => `/sys/fs/cgroup/${f}`);
    const r = await berth(daemon.host, ['exec', name, 'cat', ...files]);
    assert.equal(r.code, 0, r.stderr);
    const values = r.stdout.trim().split('\n');
    return Object.fromEntries(Object.keys(CGROUP_FILES).map((k, i) => [k, values[i]]));
  };
  const hostConfig = async (name: string) => {
    const r = await apiRequest(daemon.socket, 'GET', `/containers/${name}/json`);
    const h = (JSON.parse(r.body) as { HostConfig: Record<string, unknown> }).HostConfig;
    return { Memory: h.Memory, MemorySwap: h.MemorySwap, MemoryReservation: h.MemoryReservation, CpuShares: h.CpuShares, NanoCpus: h.NanoCpus, PidsLimit: h.PidsLimit, CpusetCpus: h.CpusetCpus, RestartPolicy: h.RestartPolicy };
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  const clients: [string, (args: string[]) => ReturnType<typeof berth>][] = [
    ['berth', (args) => berth(daemon.host, args)],
    ...DOCKER_CLIENTS.map((client): [string, (args: string[]) => ReturnType<typeof berth>] => [client, (args) => docker(client, daemon.host, args)]),
  ];

  for (const [label, cli] of clients) {
    it(`${label}: a running container gets new limits at once, the rest is kept`, async () => {
      const name = `u-${label.replace(/\W/g, '')}`;
      assert.equal((await berth(daemon.host, ['run', '-d', '--name', name, '--memory', '32m', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000'])).code, 0);
      // Only one flag: the docker CLI sends every other field as zero, which changes nothing.
      const shares = await cli(['update', '--cpu-shares', '256', name]);
      assert.equal(shares.code, 0, shares.stderr);
      assert.equal(shares.stdout, `${name}\n`);
      assert.deepEqual(await hostConfig(name), { Memory: 32 << 20, MemorySwap: 64 << 20, MemoryReservation: 0, CpuShares: 256, NanoCpus: 0, PidsLimit: null, CpusetCpus: '', RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 } });
      assert.deepEqual(await limits(name), { memory: String(32 << 20), memsw: String(64 << 20), reservation: '9223372036854771712', shares: '256', quota: '-1', pids: 'max', cpuset: (await limits(name)).cpuset });
      // A memory limit alone keeps the swap limit in force (dockerd: 48m, swap 64m).
      assert.equal((await cli(['update', '--memory', '48m', name])).code, 0);
      assert.equal((await limits(name)).memsw, String(64 << 20));
      const all = await cli(['update', '--memory', '64m', '--memory-swap', '128m', '--memory-reservation', '16m', '--cpus', '0.5', '--pids-limit', '50', '--cpuset-cpus', '0', '--restart', 'on-failure:3', name]);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(await hostConfig(name), { Memory: 64 << 20, MemorySwap: 128 << 20, MemoryReservation: 16 << 20, CpuShares: 256, NanoCpus: 5e8, PidsLimit: 50, CpusetCpus: '0', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
      assert.deepEqual(await limits(name), { memory: String(64 << 20), memsw: String(128 << 20), reservation: String(16 << 20), shares: '256', quota: '50000', pids: '50', cpuset: '0' });
      // -1 lifts the pids limit at once; inspect shows 0, as dockerd's.
      assert.equal((await cli(['update', '--pids-limit', '-1', name])).code, 0);
      assert.equal((await limits(name)).pids, 'max');
      assert.equal((await hostConfig(name)).PidsLimit, 0);
      await berth(daemon.host, ['rm', '-f', name]);
    });
  }

  it("dockerd's refusals: conflicting CPU settings, memory above the swap limit, a policy with --rm, no flags", async () => {
    assert.equal((await berth(daemon.host, ['run', '-d', '--name', 'c1', '--memory', '32m', '--cpus', '0.5', 'busybox', 'sleep', '1000'])).code, 0);
    const before = await hostConfig('c1');
    const id = (JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/c1/json')).body) as { Id: string }).Id;
    const cases: [string[], string][] = [
      [['--cpu-period', '50000'], `Cannot update container ${id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set`],
      [['--memory', '100m'], `Cannot update container ${id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`],
    ];
    for (const [flags, message] of cases) {
      const r = await apiRequest(daemon.socket, 'POST', '/containers/c1/update', flags[0] === '--cpu-period' ? { CpuPeriod: 50000 } : { Memory: 100 << 20 });
      assert.equal(r.status, 409, r.body);
      assert.equal((JSON.parse(r.body) as { message: string }).message, message);
      const cli = await berth(daemon.host, ['update', ...flags, 'c1']);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
    assert.deepEqual(await hostConfig('c1'), before, 'a refused update changes nothing');
    assert.equal((await berth(daemon.host, ['run', '-d', '--rm', '--name', 'c2', 'busybox', 'sleep', '1000'])).code, 0);
    const rm = await apiRequest(daemon.socket, 'POST', '/containers/c2/update', { RestartPolicy: { Name: 'always' } });
    assert.equal(rm.status, 409);
    assert.match((JSON.parse(rm.body) as { message: string }).message, /^Cannot update container [0-9a-f]{64}: Restart policy cannot be updated because AutoRemove is enabled for the container$/);
    const none = await berth(daemon.host, ['update', 'c1']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /you must provide one or more flags when using this command/);
    await berth(daemon.host, ['rm', '-f', 'c1', 'c2']);
  });

  it('a stopped container gets its new limits at its next start', async () => {
    assert.equal((await berth(daemon.host, ['create', '--name', 's1', '--memory', '32m', 'busybox', 'sleep', '1000'])).code, 0);
    assert.equal((await berth(daemon.host, ['update', '--memory', '40m', '--pids-limit', '30', 's1'])).code, 0);
    assert.equal((await berth(daemon.host, ['start', 's1'])).code, 0);
    const l = await limits('s1');
    assert.equal(l.memory, String(40 << 20));
    assert.equal(l.pids, '30');
    await berth(daemon.host, ['rm', '-f', 's1']);
  });
});
