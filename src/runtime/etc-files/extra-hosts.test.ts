import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExtraHost, resolveExtraHosts } from './extra-hosts';

test('add-host: name:ip split on the first colon, name=ip, bracketed IPv6', () => {
  assert.deepEqual(parseExtraHost('db:10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseExtraHost('v6:2001:db8::1'), { host: 'v6', ip: '2001:db8::1' });
  assert.deepEqual(parseExtraHost('v6=[2001:db8::2]'), { host: 'v6', ip: '2001:db8::2' });
  assert.deepEqual(parseExtraHost('host.docker.internal:host-gateway'), { host: 'host.docker.internal', ip: 'host-gateway' });
});

test('add-host: bad entries are 400s naming what is wrong, as moby words them', () => {
  assert.throws(() => parseExtraHost('nohost'), { message: 'bad format for add-host: "nohost"', kind: 'InvalidArgument' });
  assert.throws(() => parseExtraHost(':1.2.3.4'), { message: 'bad format for add-host: ":1.2.3.4"' });
  assert.throws(() => parseExtraHost('db:10.0.0'), { message: 'invalid IP address in add-host: "10.0.0"' });
  assert.throws(() => parseExtraHost('db:'), { message: 'invalid IP address in add-host: ""' });
});

test('add-host: host-gateway becomes the given gateway address, and without one it is an error', () => {
  assert.deepEqual(resolveExtraHosts(['a:1.2.3.4', 'gw:host-gateway'], '172.18.0.1'), [
    { host: 'a', ip: '1.2.3.4' },
    { host: 'gw', ip: '172.18.0.1' },
  ]);
  assert.deepEqual(resolveExtraHosts(['a:1.2.3.4'], undefined), [{ host: 'a', ip: '1.2.3.4' }]);
  assert.throws(() => resolveExtraHosts(['gw:host-gateway'], undefined), { message: 'unable to derive the IP value for host-gateway' });
});
