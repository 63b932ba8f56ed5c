import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidArgument } from '../../errors';
import { verifyRunOptions } from './verify-run-options';

test('namespaced sysctls pass; the rest are refused with runc’s message', () => {
  verifyRunOptions({ Sysctls: { 'kernel.shm_rmid_forced': '1', 'fs.mqueue.msg_max': '5', 'net.ipv4.ip_forward': '1', 'kernel.domainname': 'x' } });
  const refused: [object, RegExp][] = [
    [{ Sysctls: { 'kernel.pid_max': '1' } }, /^sysctl "kernel.pid_max" is not in a separate kernel namespace$/],
    [{ IpcMode: 'host', Sysctls: { 'kernel.sem': '1' } }, /^sysctl "kernel.sem" is not allowed in the hosts ipc namespace$/],
    [{ NetworkMode: 'host', Sysctls: { 'net.core.somaxconn': '1' } }, /^sysctl "net.core.somaxconn" not allowed in host network namespace$/],
    [{ Sysctls: { 'kernel.hostname': 'x' } }, /conflicts with the OCI "hostname" field/],
    [{ UTSMode: 'host', Sysctls: { 'kernel.domainname': 'x' } }, /not in a separate kernel namespace/],
  ];
  for (const [host, message] of refused) assert.throws(() => verifyRunOptions(host), (e: unknown) => isInvalidArgument(e) && message.test((e as Error).message), JSON.stringify(host));
});

test('ulimits and devices: the docker CLI’s rules for API clients', () => {
  verifyRunOptions({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }, { Name: 'core', Soft: 5, Hard: -1 }], Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '', CgroupPermissions: 'rwm' }] });
  assert.throws(() => verifyRunOptions({ Ulimits: [{ Name: 'files', Soft: 1, Hard: 1 }] }), /^.*invalid ulimit type: files$/);
  assert.throws(() => verifyRunOptions({ Ulimits: [{ Name: 'nofile', Soft: 3, Hard: 2 }] }), /soft limit must be less than or equal to hard limit: 3 > 2/);
  assert.throws(() => verifyRunOptions({ Devices: [{ PathOnHost: 'dev/fuse' }] }), /bad format for path: dev\/fuse/);
  assert.throws(() => verifyRunOptions({ Devices: [{ PathOnHost: '/dev/fuse', CgroupPermissions: 'rr' }] }), /bad mode specified: rr/);
});
