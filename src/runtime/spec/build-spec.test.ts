import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, DEFAULT_MASKED_PATHS, DEFAULT_SHM_SIZE } from './build-spec';
import { ALL_CAPABILITIES, capabilityMask, DEFAULT_CAPABILITIES, effectiveCapabilities, hostCapabilities } from './capabilities';
import { ContainerRuntimeConfig } from './container-config';
import { defaultSeccomp } from './seccomp-profile';
import { kernelSupportsX32 } from './kernel-x32';
import { isInvalidArgument } from '../../errors';
import { ociJson, OciSpec, RLIM_INFINITY } from './oci-types';

function config(over: Partial<ContainerRuntimeConfig> = {}): ContainerRuntimeConfig {
  return {
    id: 'c1', rootfsPath: '/tmp/rootfs', args: ['sh'], env: ['PATH=/bin'], cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] }, hostname: 'abc', tty: false, openStdin: false,
    readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], mounts: [],
    network: { mode: 'none' }, ipcMode: 'private', pidMode: 'private', utsMode: 'private',
    resources: {}, cgroupsPath: '/berth/c1', ...over,
  };
}

const allowed = (spec: OciSpec, name: string) =>
  (spec.linux.seccomp?.syscalls ?? []).some((s) => s.action === 'SCMP_ACT_ALLOW' && s.names.includes(name) && !s.args);

test('default capabilities are Docker\'s 14, mask a80425fb', () => {
  const spec = buildSpec(config());
  assert.deepEqual(spec.process.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
  assert.equal(capabilityMask(spec.process.capabilities!.effective), '00000000a80425fb');
  assert.equal(spec.process.capabilities?.inheritable, undefined);
});

test('cap-add / cap-drop with and without CAP_, ALL, and unknown caps', () => {
  assert.ok(effectiveCapabilities({ capAdd: ['net_admin'] }).includes('CAP_NET_ADMIN'));
  assert.ok(!effectiveCapabilities({ capDrop: ['CAP_CHOWN'] }).includes('CAP_CHOWN'));
  assert.deepEqual(effectiveCapabilities({ capDrop: ['ALL'], capAdd: ['kill'] }), ['CAP_KILL']);
  const all = effectiveCapabilities({ capAdd: ['all'], capDrop: ['sys_admin'], available: ALL_CAPABILITIES });
  assert.equal(all.length, 40);
  assert.ok(!all.includes('CAP_SYS_ADMIN'));
  assert.throws(() => effectiveCapabilities({ capAdd: ['foo'] }), (e: unknown) => isInvalidArgument(e) && /invalid CapAdd: unknown capability: "CAP_FOO"/.test(String(e)));
  assert.equal(effectiveCapabilities({ privileged: true, available: ALL_CAPABILITIES }).length, 41);
  assert.deepEqual(effectiveCapabilities({ privileged: true }), hostCapabilities());
});

test('masked and read-only paths, removed when privileged', () => {
  const spec = buildSpec(config());
  assert.deepEqual(spec.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.ok(spec.linux.maskedPaths!.includes('/proc/kcore'));
  assert.ok(spec.linux.readonlyPaths!.includes('/proc/sysrq-trigger'));
  const priv = buildSpec(config({ privileged: true }));
  assert.equal(priv.linux.maskedPaths, undefined);
  assert.equal(priv.linux.seccomp, undefined);
  assert.ok(priv.mounts.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  assert.deepEqual(priv.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
});

test('default seccomp: amd64 arches, cap-conditional syscalls', () => {
  const spec = buildSpec(config());
  const sc = spec.linux.seccomp!;
  assert.equal(sc.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(sc.defaultErrnoRet, 1);
  if (process.arch === 'x64') {
    assert.deepEqual(sc.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', ...(kernelSupportsX32() ? ['SCMP_ARCH_X32'] : [])]);
  }
  assert.ok(allowed(spec, 'read'));
  assert.ok(allowed(spec, 'chroot')); // CAP_SYS_CHROOT is a default
  assert.ok(!allowed(spec, 'mount')); // needs CAP_SYS_ADMIN
  assert.ok(!allowed(spec, 'reboot'));
  assert.ok(sc.syscalls!.some((s) => s.names.includes('clone') && s.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ'));
  assert.ok(sc.syscalls!.some((s) => s.names.includes('clone3') && s.errnoRet === 38));
  if (process.arch === 'x64') assert.ok(allowed(spec, 'arch_prctl'));
  assert.ok(!allowed(spec, 's390_runtime_instr'));

  const admin = buildSpec(config({ capAdd: ['SYS_ADMIN'] }));
  assert.ok(allowed(admin, 'mount'));
  assert.ok(!admin.linux.seccomp!.syscalls!.some((s) => s.names.includes('clone3') && s.errnoRet === 38));
  assert.ok(!admin.linux.seccomp!.syscalls!.some((s) => s.names.includes('clone') && s.args));
  assert.ok(allowed(buildSpec(config({ capAdd: ['SYS_PTRACE'] })), 'kcmp'));
  assert.ok(!allowed(buildSpec(config({ capDrop: ['SYS_CHROOT'] })), 'chroot'));
  // ptrace is allowed from kernel 4.8 on (minKernel), and below only with CAP_SYS_PTRACE.
  assert.ok(defaultSeccomp({ capabilities: [], kernel: '6.1.0' }).syscalls!.some((s) => s.names.includes('ptrace')));
  assert.ok(defaultSeccomp({ capabilities: [], kernel: '4.4.0' }).syscalls!.every((s) => !s.names.includes('ptrace')));
});

test('security options', () => {
  assert.equal(buildSpec(config({ securityOpt: ['seccomp=unconfined'] })).linux.seccomp, undefined);
  assert.equal(buildSpec(config({ securityOpt: ['no-new-privileges'] })).process.noNewPrivileges, true);
  assert.equal(buildSpec(config({ securityOpt: ['no-new-privileges:true'] })).process.noNewPrivileges, true);
  assert.equal(buildSpec(config({ securityOpt: ['no-new-privileges=false'] })).process.noNewPrivileges, false);
  const custom = buildSpec(config({ securityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}'] }));
  assert.equal(custom.linux.seccomp!.defaultAction, 'SCMP_ACT_ALLOW');
  assert.deepEqual(custom.linux.seccomp!.syscalls![0]!.names, ['mkdir']);
  assert.throws(() => buildSpec(config({ securityOpt: ['bogus'] })), /invalid --security-opt 1: "bogus"/);
  assert.equal(buildSpec(config({ securityOpt: ['systempaths=unconfined'] })).linux.maskedPaths, undefined);
});

test('default mounts, shm size, user mounts and etc files', () => {
  const spec = buildSpec(config({
    shmSize: 0,
    mounts: [
      { type: 'bind', source: '/host/data', destination: '/data', readonly: true },
      { type: 'tmpfs', source: '', destination: '/run', readonly: false, options: ['size=1m'] },
      { type: 'bind', source: '/host/sub', destination: '/data/sub', readonly: false },
    ],
    etcFiles: { hostname: '/x/hostname', hosts: '/x/hosts', resolvConf: '/x/resolv.conf' },
  }));
  const dests = spec.mounts.map((m) => m.destination);
  for (const d of ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm', '/etc/hosts']) assert.ok(dests.includes(d), d);
  assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
  const pts = spec.mounts.find((m) => m.destination === '/dev/pts')!;
  assert.deepEqual(pts.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  assert.ok(spec.mounts.find((m) => m.destination === '/dev/shm')!.options!.includes(`size=${DEFAULT_SHM_SIZE}`));
  assert.ok(spec.mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
  assert.equal(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.type, 'cgroup');
  const data = spec.mounts.find((m) => m.destination === '/data')!;
  assert.deepEqual(data.options, ['rbind', 'ro', 'rprivate']);
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/data/sub')!.options, ['rbind', 'rprivate']);
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/etc/hosts')!.options, ['rbind', 'rprivate']);
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options, ['ro', 'nosuid', 'noexec', 'nodev']);
  const run = spec.mounts.find((m) => m.destination === '/run')!;
  assert.deepEqual(run.options, ['nosuid', 'nodev', 'noexec', 'size=1m', 'rw']);
  assert.equal(spec.mounts.find((m) => m.destination === '/etc/hosts')!.source, '/x/hosts');
  // a user /dev/shm replaces the default one
  const shm = buildSpec(config({ mounts: [{ type: 'tmpfs', source: '', destination: '/dev/shm', readonly: false }] }));
  assert.equal(shm.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
});

test('namespaces follow modes', () => {
  const types = (s: OciSpec) => s.linux.namespaces.map((n) => n.type).sort();
  assert.deepEqual(types(buildSpec(config())), ['ipc', 'mount', 'network', 'pid', 'uts']);
  const host = buildSpec(config({ network: { mode: 'host' }, pidMode: 'host', ipcMode: 'host', utsMode: 'host' }));
  assert.deepEqual(types(host), ['mount']);
  assert.equal(host.hostname, undefined);
  const p = buildSpec(config({ network: { mode: 'path', netnsPath: '/run/netns/x' } }));
  assert.equal(p.linux.namespaces.find((n) => n.type === 'network')!.path, '/run/netns/x');
});

test('resources', () => {
  const spec = buildSpec(config({ resources: { memory: 64 << 20, cpuShares: 512, nanoCpus: 1.5e9, cpusetCpus: '0', pidsLimit: 100 } }));
  const r = spec.linux.resources!;
  assert.equal(r.memory!.limit, 64 << 20);
  assert.equal(r.memory!.swap, 128 << 20);
  assert.deepEqual(r.cpu, { shares: 512, period: 100000, quota: 150000, cpus: '0' });
  assert.deepEqual(r.pids, { limit: 100 });
  // No limit is no pids entry: a new cgroup has none.
  assert.equal(buildSpec(config({ resources: { pidsLimit: -1 } })).linux.resources!.pids, undefined);
  assert.deepEqual(r.devices![0], { allow: false, access: 'rwm' });
  assert.equal(spec.linux.cgroupsPath, '/berth/c1');
  assert.equal(buildSpec(config({ resources: { memory: 1 << 20, memorySwap: -1 } })).linux.resources!.memory!.swap, -1);
  assert.throws(() => buildSpec(config({ resources: { nanoCpus: 1e9, cpuQuota: 1000 } })), (e: unknown) => isInvalidArgument(e));
});

test('init, ulimits, sysctls, oom score, readonly rootfs', () => {
  const spec = buildSpec(config({
    init: '/usr/bin/docker-init', args: ['sleep', '1'], ulimits: [{ name: 'nofile', soft: 10, hard: 20 }],
    sysctls: { 'net.ipv4.ip_forward': '1' }, oomScoreAdj: 500, readonlyRootfs: true,
  }));
  assert.deepEqual(spec.process.args, ['/sbin/docker-init', '--', 'sleep', '1']);
  assert.ok(spec.mounts.some((m) => m.destination === '/sbin/docker-init' && m.source === '/usr/bin/docker-init'));
  assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }]);
  assert.equal(spec.linux.sysctl!['net.ipv4.ip_forward'], '1');
  assert.equal(spec.process.oomScoreAdj, 500);
  assert.equal(spec.root.readonly, true);
  assert.throws(() => buildSpec(config({ ulimits: [{ name: 'bogus', soft: 1, hard: 1 }] })), /invalid ulimit type/);
});

test('ulimit -1 is RLIM_INFINITY, written exactly as uint64 max', () => {
  const spec = buildSpec(config({ ulimits: [{ name: 'core', soft: -1, hard: -1 }, { name: 'nofile', soft: 5, hard: -1 }] }));
  assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: RLIM_INFINITY }, { type: 'RLIMIT_NOFILE', soft: 5, hard: RLIM_INFINITY }]);
  const text = ociJson(spec);
  assert.match(text, /"type": "RLIMIT_CORE",\n\s*"soft": 18446744073709551615,\n\s*"hard": 18446744073709551615/);
  // Read back (exec reuses the container's process) and written again, it stays exact.
  assert.equal(ociJson(JSON.parse(text)), text);
});

test('--ipc host: the host /dev/shm bound, a fresh mqueue mount (the host needs no /dev/mqueue)', () => {
  const spec = buildSpec(config({ ipcMode: 'host' }));
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/dev/mqueue'), { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] });
  assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')!.source, '/dev/shm');
});

test('default seccomp: x32 rules only for a kernel with the x32 ABI', () => {
  const caps = ['CAP_CHOWN'];
  assert.deepEqual(defaultSeccomp({ capabilities: caps, arch: 'amd64', x32: true }).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(defaultSeccomp({ capabilities: caps, arch: 'amd64', x32: false }).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
});

test('default seccomp: each call returns a fresh copy of the cached profile', () => {
  const a = defaultSeccomp({ capabilities: ['CAP_CHOWN'], arch: 'amd64', x32: true });
  a.syscalls!.length = 0;
  const b = defaultSeccomp({ capabilities: ['CAP_CHOWN'], arch: 'amd64', x32: true });
  assert.ok(b.syscalls!.length > 0);
});
