import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { portMap, portRequests } from './port-specs';

describe('portRequests', () => {
  const bindings = { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] };

  it('publishes the bindings of exposed ports only, as dockerd', () => {
    assert.deepEqual(portRequests(bindings, false, { '80/tcp': {} }), [{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }]);
    assert.deepEqual(portRequests(bindings, false, {}), []);
    assert.deepEqual(portRequests(bindings, false, null), []);
  });

  it('takes an exposed key without its protocol as tcp', () => {
    assert.deepEqual(portRequests(bindings, false, { '80': {} }).map((r) => r.containerPort), [80]);
  });

  it('checks every binding when asked with no exposed set (create), exposed or not', () => {
    assert.equal(portRequests(bindings, false, undefined).length, 2);
    assert.throws(() => portRequests({ '80/tcp': [{ HostPort: '70000' }] }, false, undefined), /invalid host port 70000 for port 80\/tcp/);
    assert.throws(() => portRequests({ '80/tcp': [{ HostPort: '70000' }] }, false, {}), /invalid host port 70000/);
    assert.throws(() => portRequests({ '80/sctp': [] }, false, undefined), /invalid proto: sctp/);
  });

  it('-P adds every exposed port without a binding on an ephemeral host port', () => {
    assert.deepEqual(portRequests(bindings, true, { '80/tcp': {}, '90/tcp': {} }), [
      { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 },
      { proto: 'tcp', containerPort: 90, hostIp: '0.0.0.0', hostPort: 0 },
    ]);
  });

  it('a host port range is kept as its first and last port', () => {
    assert.deepEqual(portRequests({ '80/tcp': [{ HostPort: '8000-8010' }] }, false, { '80/tcp': {} }), [{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8000, hostPortLast: 8010 }]);
  });
});

describe('portMap', () => {
  it('lists exposed ports with null and published ones with their host side', () => {
    assert.deepEqual(portMap({ '80/tcp': {}, '90': {} }, [{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }]), {
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
      '90/tcp': null,
    });
  });
});
