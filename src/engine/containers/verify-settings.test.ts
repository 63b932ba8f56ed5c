import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostConfig } from '../../api/types/containers';
import type { SysInfo } from '../../runtime/cgroups/sysinfo';
import { verifyCreateSettings, verifyUpdateSettings } from './verify-settings';
import { unsupportedSettingWarnings } from './unsupported-settings';

const full: SysInfo = {
  cgroupVersion: '1',
  cgroupDriver: 'cgroupfs',
  memoryLimit: true,
  swapLimit: true,
  kernelMemory: true,
  memoryReservation: true,
  memorySwappiness: true,
  oomKillDisable: true,
  pidsLimit: true,
  cpuShares: true,
  cpuCfs: true,
  cpuRealtime: true,
  cpuset: true,
  blkioWeight: true,
  blkioWeightDevice: true,
  blkioThrottle: true,
  cpus: '0-3',
  mems: '0',
  ncpu: 4,
};

test('a limit the host cannot apply is dropped with dockerd`s warning', () => {
  const host: HostConfig = { Memory: 64 << 20, MemorySwap: 128 << 20, BlkioWeight: 500 };
  const warnings = verifyCreateSettings({}, host, { ...full, swapLimit: false, blkioWeight: false });
  assert.deepEqual(warnings, [
    'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
  ]);
  assert.equal(host.MemorySwap, -1);
  assert.equal(host.BlkioWeight, 0);
});

test('values dockerd normalizes: swappiness -1 and pids limit <= 0 mean unset', () => {
  const host: HostConfig = { MemorySwappiness: -1, PidsLimit: 0 };
  assert.deepEqual(verifyCreateSettings({}, host, full), []);
  assert.equal(host.MemorySwappiness, null);
  assert.equal(host.PidsLimit, null);
});

test('cpusets are checked against what the host offers', () => {
  assert.throws(() => verifyCreateSettings({}, { CpusetCpus: '0-4' }, full), { message: 'Requested CPUs are not available - requested 0-4, available: 0-3' });
  assert.throws(() => verifyCreateSettings({}, { CpusetMems: '1' }, full), { message: 'Requested memory nodes are not available - requested 1, available: 0' });
  assert.throws(() => verifyCreateSettings({}, { CpusetCpus: '3-1' }, full), { message: 'Invalid value 3-1 for cpuset cpus: invalid format: 3-1' });
  assert.deepEqual(verifyCreateSettings({}, { CpusetCpus: '0,2-3' }, full), []);
});

test('an update may set swap without memory; a create may not', () => {
  assert.throws(() => verifyCreateSettings({}, { MemorySwap: 64 << 20 }, full), { message: 'You should always set the Memory limit when using Memoryswap limit, see usage' });
  assert.deepEqual(verifyUpdateSettings({ MemorySwap: 64 << 20 }, full), []);
});

test('health check durations below 1ms are refused', () => {
  assert.throws(() => verifyCreateSettings({ Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } }, {}, full), { message: 'Interval in Healthcheck cannot be less than 1ms' });
});

test('unsupported settings warn only when set, not for the zero values clients send', () => {
  const cliDefaults: HostConfig = { Ulimits: [], Devices: [], Sysctls: {}, OomScoreAdj: 0, PortBindings: {}, KernelMemory: 0, Init: null, OomKillDisable: false };
  assert.deepEqual(unsupportedSettingWarnings({ Healthcheck: { Test: ['NONE'] } }, cliDefaults), []);
  const warnings = unsupportedSettingWarnings({}, { PortBindings: { '80/tcp': [{ HostPort: '80' }], '53/udp': null }, BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }] });
  // Published ports are applied (bridge networking): no warning.
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^BlkioDeviceReadBps is not supported yet/);
  // Applied since: no warning for them.
  const applied: HostConfig = { Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 1 }], Sysctls: { 'kernel.sem': '1' }, Devices: [{ PathOnHost: '/dev/fuse' }], GroupAdd: ['50'], OomScoreAdj: 5, Init: true };
  assert.deepEqual(unsupportedSettingWarnings({ Healthcheck: { Test: ['CMD-SHELL', 'true'] } }, applied), []);
});
