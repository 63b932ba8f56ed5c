import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePortSpecs } from './publish-specs';

describe('parsePortSpecs (-p, --expose)', () => {
  it('a single port, with and without host port and address', () => {
    assert.deepEqual(parsePortSpecs(['8080:80', '127.0.0.1::81', '53/udp'], []), {
      exposed: { '80/tcp': {}, '81/tcp': {}, '53/udp': {} },
      bindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }], '53/udp': [{ HostIp: '', HostPort: '' }] },
    });
  });

  it('a container port range becomes one key per port, its host range port by port', () => {
    assert.deepEqual(parsePortSpecs(['18100-18102:80-82'], []).bindings, {
      '80/tcp': [{ HostIp: '', HostPort: '18100' }],
      '81/tcp': [{ HostIp: '', HostPort: '18101' }],
      '82/tcp': [{ HostIp: '', HostPort: '18102' }],
    });
    assert.deepEqual(parsePortSpecs(['7000-7001'], []).bindings, { '7000/tcp': [{ HostIp: '', HostPort: '' }], '7001/tcp': [{ HostIp: '', HostPort: '' }] });
  });

  it('a host range for one container port is kept whole', () => {
    assert.deepEqual(parsePortSpecs(['18110-18120:90'], []).bindings, { '90/tcp': [{ HostIp: '', HostPort: '18110-18120' }] });
  });

  it('--expose ranges, and the docker CLI errors', () => {
    assert.deepEqual(parsePortSpecs([], ['7000-7002/udp']).exposed, { '7000/udp': {}, '7001/udp': {}, '7002/udp': {} });
    assert.throws(() => parsePortSpecs(['8000:80-82'], []), /invalid ranges specified for container and host Ports: 80-82 and 8000/);
    assert.throws(() => parsePortSpecs(['8000:http'], []), /invalid containerPort: http/);
    assert.throws(() => parsePortSpecs(['x:80'], []), /invalid hostPort: x/);
    assert.throws(() => parsePortSpecs([], ['70000']), /invalid range format for --expose: 70000/);
  });
});
