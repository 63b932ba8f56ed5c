import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLink, linkEnv, linkHostEntry, parseLink } from './legacy-links';

test('links parse as the API takes them and format as dockerd shows them', () => {
  assert.deepEqual(parseLink('web:db'), { target: 'web', alias: 'db' });
  assert.deepEqual(parseLink('web'), { target: 'web', alias: 'web' });
  assert.deepEqual(parseLink('/web:/client/db'), { target: 'web', alias: 'db' });
  assert.equal(formatLink({ target: 'web', alias: 'db' }, '/client'), '/web:/client/db');
  assert.throws(() => parseLink(':db'), /invalid link: ":db"/);
  assert.throws(() => parseLink('a:b:c'), /invalid link/);
});

test("a link's hosts entry and environment, as moby's links package makes them", () => {
  const linked = { alias: 'my-db', name: 'web', hostname: 'abc123', ip: '172.17.0.2', env: ['PATH=/bin', 'HOME=/root', 'MODE=a=b'], exposedPorts: ['8080/tcp', '53/udp', '53/tcp'] };
  assert.deepEqual(linkHostEntry(linked), { host: 'my-db abc123 web', ip: '172.17.0.2' });
  assert.deepEqual(linkHostEntry({ ...linked, alias: 'web' }), { host: 'web abc123', ip: '172.17.0.2' });
  assert.deepEqual(linkEnv(linked, '/client'), [
    'MY_DB_PORT=tcp://172.17.0.2:53',
    'MY_DB_PORT_53_TCP=tcp://172.17.0.2:53',
    'MY_DB_PORT_53_TCP_ADDR=172.17.0.2',
    'MY_DB_PORT_53_TCP_PORT=53',
    'MY_DB_PORT_53_TCP_PROTO=tcp',
    'MY_DB_PORT_8080_TCP=tcp://172.17.0.2:8080',
    'MY_DB_PORT_8080_TCP_ADDR=172.17.0.2',
    'MY_DB_PORT_8080_TCP_PORT=8080',
    'MY_DB_PORT_8080_TCP_PROTO=tcp',
    'MY_DB_PORT_53_UDP=udp://172.17.0.2:53',
    'MY_DB_PORT_53_UDP_ADDR=172.17.0.2',
    'MY_DB_PORT_53_UDP_PORT=53',
    'MY_DB_PORT_53_UDP_PROTO=udp',
    'MY_DB_NAME=/client/my-db',
    'MY_DB_ENV_MODE=a=b',
  ]);
});
