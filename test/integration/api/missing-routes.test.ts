import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, startHarness, type Harness } from './harness';
import { NOT_SWARM_MANAGER } from '../../../src/api/server/routes/missing';

/**
 * Routes berth does not serve: swarm answers as a dockerd that is no swarm manager (checked
 * against dockerd 20.10 by test/e2e/docker-parity.test.ts), the other missing features a 501
 * naming them, and a path that is no Engine API route dockerd's 404.
 */
let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.stop();
});

const swarmRoutes: [string, string][] = [
  ['GET', '/swarm'],
  ['GET', '/v1.41/swarm/unlockkey'],
  ['POST', '/swarm/unlock'],
  ['POST', '/swarm/update?version=3'],
  ['GET', '/services'],
  ['GET', '/services/web'],
  ['POST', '/services/create'],
  ['POST', '/services/web/update?version=1'],
  ['DELETE', '/services/web'],
  ['GET', '/services/web/logs?stdout=1'],
  ['GET', '/nodes'],
  ['GET', '/nodes/n1'],
  ['DELETE', '/nodes/n1'],
  ['POST', '/nodes/n1/update?version=1'],
  ['GET', '/tasks'],
  ['GET', '/tasks/t1'],
  ['GET', '/tasks/t1/logs?stderr=1'],
  ['GET', '/secrets'],
  ['POST', '/secrets/create'],
  ['GET', '/secrets/s1'],
  ['DELETE', '/secrets/s1'],
  ['POST', '/secrets/s1/update?version=2'],
  ['GET', '/configs'],
  ['POST', '/configs/create'],
  ['GET', '/configs/c1'],
  ['DELETE', '/configs/c1'],
  ['POST', '/configs/c1/update?version=2'],
];

test('every swarm route answers 503 "This node is not a swarm manager", as a dockerd outside a swarm', async () => {
  for (const [method, url] of swarmRoutes) {
    const res = await request(h.socketPath, method, url, method === 'POST' ? {} : undefined);
    assert.equal(res.status, 503, `${method} ${url}`);
    assert.deepEqual(res.json(), { message: NOT_SWARM_MANAGER }, `${method} ${url}`);
  }
});

test('swarm routes make the parameter checks dockerd makes first', async () => {
  const cases: [string, string, number, string][] = [
    ['POST', '/swarm/leave', 503, 'This node is not part of a swarm'],
    ['POST', '/swarm/update', 400, `invalid swarm version '': strconv.ParseUint: parsing "": invalid syntax`],
    ['POST', '/services/web/update?version=x', 400, `invalid service version 'x': strconv.ParseUint: parsing "x": invalid syntax`],
    ['POST', '/nodes/n1/update?version=99999999999999999999', 400, `invalid node version '99999999999999999999': strconv.ParseUint: parsing "99999999999999999999": value out of range`],
    ['POST', '/secrets/s1/update', 400, 'invalid secret version'],
    ['POST', '/configs/c1/update?version=-1', 400, 'invalid config version'],
    ['GET', '/services/web/logs', 500, 'Bad parameters: you must choose at least one stream'],
    ['GET', '/tasks/t1/logs', 500, 'Bad parameters: you must choose at least one stream'],
    ['PUT', '/volumes/v1', 503, 'volume update only valid for cluster volumes, but swarm is unavailable'],
  ];
  for (const [method, url, status, message] of cases) {
    const res = await request(h.socketPath, method, url, method === 'GET' ? undefined : {});
    assert.equal(res.status, status, `${method} ${url}`);
    assert.deepEqual(res.json(), { message }, `${method} ${url}`);
  }
});

test('entering a swarm and the features berth lacks answer 501 naming the feature', async () => {
  const cases: [string, string, RegExp][] = [
    ['POST', '/swarm/init', /^swarm mode is not supported by berth: it spreads over hosts through Kubernetes/],
    ['POST', '/swarm/join', /^swarm mode is not supported/],
    ['POST', '/session', /^building images with BuildKit is not supported by berth: it has the classic builder/],
    ['POST', '/grpc', /^building images with BuildKit is not supported by berth/],
    ['GET', '/plugins', /^plugins are not supported by berth yet/],
    ['GET', '/plugins/privileges?remote=x', /^plugins are not supported by berth yet/],
    ['POST', '/plugins/pull?remote=x', /^plugins are not supported by berth yet/],
    ['GET', '/plugins/vieux/sshfs:latest/json', /^plugins are not supported by berth yet/],
    ['POST', '/plugins/vieux/sshfs/enable', /^plugins are not supported by berth yet/],
    ['DELETE', '/plugins/sshfs', /^plugins are not supported by berth yet/],
    ['GET', '/containers/c1/attach/ws', /^attach over a websocket is not supported by berth yet/],
  ];
  for (const [method, url, message] of cases) {
    const res = await request(h.socketPath, method, url, method === 'POST' ? {} : undefined);
    assert.equal(res.status, 501, `${method} ${url}`);
    assert.match(res.json<{ message: string }>().message, message, `${method} ${url}`);
  }
});

test('a path or method that is no Engine API route keeps dockerd\'s 404 "page not found"', async () => {
  for (const [method, url] of [
    ['GET', '/nonexistent'],
    ['GET', '/v1.41/nonexistent'],
    ['GET', '/build'],
    ['GET', '/swarm/init'],
    ['POST', '/swarm/unlockkey'],
    ['GET', '/session'],
    ['PUT', '/networks'],
  ] as const) {
    const res = await request(h.socketPath, method, url);
    assert.equal(res.status, 404, `${method} ${url}`);
    assert.deepEqual(res.json(), { message: 'page not found' }, `${method} ${url}`);
  }
});
