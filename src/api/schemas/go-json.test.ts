import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerCreateBody, containerUpdateBody } from './containers';
import { execCreateBody } from './exec';
import { volumeCreateBody } from './volumes';
import { statusOf } from '../errors-to-status';

const refused = (fn: () => unknown, message: string) =>
  assert.throws(fn, (err: Error) => {
    assert.equal(err.message, message);
    assert.equal(statusOf(err), 400);
    return true;
  });

test('a wrongly typed field is refused with moby`s message naming it', () => {
  refused(() => containerCreateBody.decode({ Image: 5 }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string');
  refused(() => containerCreateBody.decode({ Image: 'busybox', Env: 5 }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type []string');
  refused(() => containerCreateBody.decode({ Env: ['A=1', 5] }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string');
  refused(() => containerCreateBody.decode({ Labels: { a: true } }), 'invalid JSON: json: cannot unmarshal bool into Go struct field ContainerConfigWrapper.Labels of type string');
  refused(
    () => containerCreateBody.decode({ HostConfig: { Memory: '1g' } }),
    'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig.Memory of type int64',
  );
  refused(
    () => containerCreateBody.decode({ HostConfig: { Memory: 1.5 } }),
    'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field ContainerConfigWrapper.HostConfig.Memory of type int64',
  );
  refused(
    () => containerCreateBody.decode({ HostConfig: { BlkioWeight: -1 } }),
    'invalid JSON: json: cannot unmarshal number -1 into Go struct field ContainerConfigWrapper.HostConfig.BlkioWeight of type uint16',
  );
  refused(
    () => containerCreateBody.decode({ HostConfig: { Mounts: [{ Type: 'bind', ReadOnly: 'yes' }] } }),
    'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig.Mounts.ReadOnly of type bool',
  );
  refused(() => containerCreateBody.decode({ HostConfig: 'x' }), 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig');
  refused(() => containerCreateBody.decode({ Cmd: 5 }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type strslice.StrSlice');
  refused(() => containerCreateBody.decode(5), 'invalid JSON: json: cannot unmarshal number into Go value of type ContainerConfigWrapper');
  refused(() => containerCreateBody.decode([]), 'invalid JSON: json: cannot unmarshal array into Go value of type ContainerConfigWrapper');
  refused(() => execCreateBody.decode({ Cmd: 'ls' }), 'invalid JSON: json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string');
  refused(() => containerUpdateBody.decode({ RestartPolicy: { Name: 1 } }), 'invalid JSON: json: cannot unmarshal number into Go struct field UpdateConfig.RestartPolicy.Name of type string');
  refused(() => volumeCreateBody.decode({ Labels: [] }), 'invalid JSON: json: cannot unmarshal array into Go struct field CreateOptions.Labels of type map[string]string');
});

test('what Go decodes is accepted as it is: nulls, unknown fields, a string Cmd, port sets', () => {
  assert.equal(containerCreateBody.decode(null), undefined);
  assert.equal(containerCreateBody.decode(undefined), undefined);
  const body = {
    Image: 'busybox',
    Cmd: 'echo hi',
    Entrypoint: null,
    Env: null,
    ExposedPorts: { '80/tcp': {}, '81/udp': null },
    Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 },
    Unknown: { anything: [1, 2] },
    HostConfig: { Memory: 0, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, Init: null, ConsoleSize: [24, 80] },
    NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['a'] } } },
  };
  assert.deepEqual(containerCreateBody.decode(body), body);
});

test('struct field names match case-insensitively, as encoding/json does; map keys do not', () => {
  const body = containerCreateBody.decode({
    image: 'busybox',
    cmd: ['echo', 'hi'],
    ENV: ['A=1'],
    labels: { Com: 'x' },
    hostconfig: { memory: 8_000_000, restartpolicy: { name: 'always' }, binds: ['/a:/b'] },
    networkingconfig: { endpointsconfig: { MyNet: { aliases: ['x'] } } },
  });
  assert.deepEqual(body, {
    Image: 'busybox',
    Cmd: ['echo', 'hi'],
    Env: ['A=1'],
    Labels: { Com: 'x' },
    HostConfig: { Memory: 8_000_000, RestartPolicy: { Name: 'always' }, Binds: ['/a:/b'] },
    NetworkingConfig: { EndpointsConfig: { MyNet: { Aliases: ['x'] } } },
  });
  // The exact spelling wins over a folded one only by order: the later key sets the field, as in Go.
  assert.deepEqual(containerCreateBody.decode({ Image: 'a', image: 'b' }), { Image: 'b' });
  assert.deepEqual(execCreateBody.decode({ cmd: ['ls'], attachstdout: true }), { Cmd: ['ls'], AttachStdout: true });
  // A folded field is checked like the field: the message names the Go field.
  refused(() => containerCreateBody.decode({ image: 5 }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string');
  // Unknown fields stay unknown (and ignored).
  assert.deepEqual(volumeCreateBody.decode({ name: 'v', bogus: 1 }), { Name: 'v', bogus: 1 });
});
