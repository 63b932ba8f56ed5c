import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { createApiServer } from '../../../src/api/server';
import { silentLogger } from '../../../src/util/logger';
import { demux, request, startHarness, type Harness } from './harness';
import { fakeBackends } from './fake-backends';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.stop();
});

test('GET and HEAD /_ping carry Docker headers', async () => {
  const get = await request(h.socketPath, 'GET', '/_ping');
  assert.equal(get.status, 200);
  assert.equal(get.body.toString(), 'OK');
  assert.equal(get.headers['api-version'], '1.45');
  assert.equal(get.headers['ostype'], 'linux');
  assert.equal(get.headers['docker-experimental'], 'false');
  assert.equal(get.headers['builder-version'], '1');
  assert.match(String(get.headers['cache-control']), /no-cache/);
  assert.equal(get.headers['server'], 'Berth/0.1.0-test (linux)');
  const head = await request(h.socketPath, 'HEAD', '/v1.41/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('version prefix: accepted, too new and too old', async () => {
  const ok = await request(h.socketPath, 'GET', '/v1.44/version');
  assert.equal(ok.status, 200);
  const v = ok.json<{ ApiVersion: string; MinAPIVersion: string; Version: string }>();
  assert.equal(v.ApiVersion, '1.45');
  assert.equal(v.MinAPIVersion, '1.24');
  const tooNew = await request(h.socketPath, 'GET', '/v1.99/version');
  assert.equal(tooNew.status, 400);
  assert.deepEqual(tooNew.json(), { message: 'client version 1.99 is too new. Maximum supported API version is 1.45' });
  const tooOld = await request(h.socketPath, 'GET', '/v1.12/version');
  assert.equal(tooOld.status, 400);
  assert.match(tooOld.json<{ message: string }>().message, /client version 1.12 is too old\. Minimum supported API version is 1.24/);
});

test('unknown route is 404 page not found', async () => {
  const res = await request(h.socketPath, 'GET', '/v1.45/nothing/here');
  assert.equal(res.status, 404);
  assert.deepEqual(res.json(), { message: 'page not found' });
  assert.equal(res.headers['content-type'], 'application/json');
});

test('engine errors map to statuses with Docker messages', async () => {
  const missing = await request(h.socketPath, 'GET', '/containers/nope/json');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { message: 'No such container: nope' });

  await request(h.socketPath, 'POST', '/containers/create?name=dup', { Image: 'busybox', Cmd: ['true'] });
  const dup = await request(h.socketPath, 'POST', '/containers/create?name=dup', { Image: 'busybox' });
  assert.equal(dup.status, 409);
  assert.match(dup.json<{ message: string }>().message, /is already in use/);

  const badJson = await request(h.socketPath, 'POST', '/containers/create', Buffer.from('{nope'), { 'Content-Type': 'application/json' });
  assert.equal(badJson.status, 400);
  const empty = await request(h.socketPath, 'POST', '/containers/create');
  assert.equal(empty.status, 400);
  assert.deepEqual(empty.json(), { message: 'config cannot be empty in order to create a container' });

  const search = await request(h.socketPath, 'GET', '/images/search?term=x');
  assert.equal(search.status, 501);

  const badFilter = await request(h.socketPath, 'GET', '/containers/json?filters=%7Bbad');
  assert.equal(badFilter.status, 400);

  await request(h.socketPath, 'POST', '/containers/create?name=started', { Image: 'busybox', Cmd: ['sleep'] });
  assert.equal((await request(h.socketPath, 'POST', '/containers/started/start')).status, 204);
  const again = await request(h.socketPath, 'POST', '/containers/started/start');
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  const rm = await request(h.socketPath, 'DELETE', '/containers/started');
  assert.equal(rm.status, 409);
  assert.equal((await request(h.socketPath, 'DELETE', '/containers/started?force=1')).status, 204);
});

test('create, list and inspect shapes', async () => {
  const created = await request(h.socketPath, 'POST', '/v1.45/containers/create?name=shape', { Image: 'busybox', Cmd: ['echo', 'x'], Labels: { a: 'b' }, HostConfig: { AutoRemove: false } });
  assert.equal(created.status, 201);
  const { Id, Warnings } = created.json<{ Id: string; Warnings: string[] }>();
  assert.match(Id, /^[0-9a-f]{64}$/);
  assert.deepEqual(Warnings, []);

  const running = await request(h.socketPath, 'GET', '/containers/json');
  assert.ok(!running.json<{ Id: string }[]>().some((c) => c.Id === Id));
  const all = await request(h.socketPath, 'GET', '/containers/json?all=1&filters=' + encodeURIComponent('{"label":{"a=b":true}}'));
  const mine = all.json<{ Id: string; Names: string[]; Labels: Record<string, string> }[]>().find((c) => c.Id === Id);
  assert.deepEqual(mine?.Names, ['/shape']);
  assert.deepEqual(mine?.Labels, { a: 'b' });

  const inspect = await request(h.socketPath, 'GET', '/containers/shape/json');
  const body = inspect.json<{ Id: string; Name: string; State: { Status: string }; Config: { Image: string } }>();
  assert.equal(body.Id, Id);
  assert.equal(body.Name, '/shape');
  assert.equal(body.State.Status, 'created');
  assert.equal(body.Config.Image, 'busybox');
});

test('wait sends headers before the container exits, body after', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=waiter', { Image: 'busybox', Cmd: ['sh', '-c', 'exit 7'] });
  const gotHeaders = new Promise<{ status: number; body: Promise<string> }>((resolve, reject) => {
    const req = http.request({ socketPath: h.socketPath, method: 'POST', path: '/containers/waiter/wait?condition=next-exit' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      resolve({ status: res.statusCode ?? 0, body: new Promise((r) => res.on('end', () => r(Buffer.concat(chunks).toString()))) });
    });
    req.on('error', reject);
    req.end();
  });
  const { status, body } = await gotHeaders; // arrives while the container has not started
  assert.equal(status, 200);
  assert.equal((await request(h.socketPath, 'POST', '/containers/waiter/start')).status, 204);
  assert.deepEqual(JSON.parse(await body), { StatusCode: 7, Error: null });

  const missing = await request(h.socketPath, 'POST', '/containers/ghost/wait');
  assert.equal(missing.status, 404);
  const badCondition = await request(h.socketPath, 'POST', '/containers/waiter/wait?condition=soon');
  assert.equal(badCondition.status, 400);
});

test('logs: multiplexed for non-TTY with timestamps, raw for TTY', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=logplain', { Image: 'busybox', Cmd: ['true'] });
  const plain = await request(h.socketPath, 'GET', '/containers/logplain/logs?stdout=1&stderr=1&timestamps=1');
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
  assert.deepEqual(demux(plain.body), [
    [1, '2024-01-01T00:00:00.000000001Z out line\n'],
    [2, '2024-01-01T00:00:00.000000002Z err line\n'],
  ]);
  const old = await request(h.socketPath, 'GET', '/v1.41/containers/logplain/logs?stdout=1');
  assert.equal(old.headers['content-type'], 'application/vnd.docker.raw-stream');
  assert.equal(demux(old.body).length, 2, 'still framed before 1.42');

  await request(h.socketPath, 'POST', '/containers/create?name=logtty', { Image: 'busybox', Cmd: ['true'], Tty: true });
  const tty = await request(h.socketPath, 'GET', '/containers/logtty/logs?stdout=true&stderr=true');
  assert.equal(tty.headers['content-type'], 'application/vnd.docker.raw-stream');
  assert.equal(tty.body.toString(), 'out line\nerr line\n');

  const none = await request(h.socketPath, 'GET', '/containers/logtty/logs');
  assert.equal(none.status, 400);
  assert.deepEqual(none.json(), { message: 'Bad parameters: you must choose at least one stream' });
});

test('archive HEAD and GET carry the path stat header', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=arch', { Image: 'busybox', Cmd: ['true'] });
  const head = await request(h.socketPath, 'HEAD', '/containers/arch/archive?path=/etc/hostname');
  assert.equal(head.status, 200);
  const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
  assert.equal(stat.name, 'hostname');
  const get = await request(h.socketPath, 'GET', '/containers/arch/archive?path=/etc/hostname');
  assert.equal(get.headers['content-type'], 'application/x-tar');
  assert.equal(get.body.length, 1024);
  const noPath = await request(h.socketPath, 'HEAD', '/containers/arch/archive');
  assert.equal(noPath.status, 400);
});

test('images: save, load, pull errors and names with slashes', async () => {
  const save = await request(h.socketPath, 'GET', '/images/get?names=busybox&names=reg:5000/a/b:1');
  assert.equal(save.headers['content-type'], 'application/x-tar');
  assert.equal(save.body.toString(), 'tar of busybox,reg:5000/a/b:1');
  const one = await request(h.socketPath, 'GET', '/images/reg:5000/a/b:1/get');
  assert.equal(one.body.toString(), 'tar of reg:5000/a/b:1');
  const missing = await request(h.socketPath, 'GET', '/images/get?names=missing');
  assert.equal(missing.status, 404);

  const load = await request(h.socketPath, 'POST', '/images/load?quiet=0', Buffer.alloc(2048), { 'Content-Type': 'application/x-tar' });
  assert.equal(load.status, 200);
  assert.equal(load.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(load.body.toString()), { stream: 'Loaded image: fake:2048\n' });

  const inspect = await request(h.socketPath, 'GET', '/images/reg:5000/a/b/json');
  assert.deepEqual(inspect.json(), { message: 'No such image: reg:5000/a/b' });

  const denied = await request(h.socketPath, 'POST', '/images/create?fromImage=unreachable&tag=latest');
  assert.equal(denied.status, 404, 'an error before any progress is an HTTP error');
  const midway = await request(h.socketPath, 'POST', '/images/create?fromImage=busybox&tag=latest');
  assert.equal(midway.status, 200);
  const lines = midway.body.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[1], { errorDetail: { message: 'registries are not supported yet' }, error: 'registries are not supported yet' });
});

test('events stream flushes headers and ends on shutdown', async () => {
  h.backends.system.pastEvents.push({ Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: {} }, scope: 'local', time: 1, timeNano: 1 });
  const first = await new Promise<{ line: string; ended: Promise<void> }>((resolve, reject) => {
    const req = http.request({ socketPath: h.socketPath, method: 'GET', path: '/events' }, (res) => {
      assert.equal(res.headers['content-type'], 'application/json');
      const ended = new Promise<void>((r) => res.on('end', () => r()).on('close', () => r()));
      res.once('data', (c: Buffer) => resolve({ line: c.toString(), ended }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(JSON.parse(first.line).Action, 'start');
  h.backends.system.shutdown();
  await first.ended;
});

test('listen refuses a socket a live daemon answers on, and replaces a stale one', async () => {
  const other = createApiServer(fakeBackends(), { logger: silentLogger, socketPath: h.socketPath });
  await assert.rejects(other.listen(), /another daemon is already listening/);

  const fs = await import('node:fs/promises');
  const stat = await fs.stat(h.socketPath);
  assert.equal(stat.mode & 0o777, 0o660);

  // A stale socket: a listener that died without unlinking.
  const stalePath = h.socketPath.replace('api.sock', 'stale.sock');
  const stale = net.createServer();
  await new Promise<void>((r) => stale.listen(stalePath, () => r()));
  const handle = (stale as unknown as { _handle: { close(): void } | null })._handle;
  handle?.close(); // closes the fd but leaves the file, like a crash
  const fresh = createApiServer(fakeBackends(), { logger: silentLogger, socketPath: stalePath });
  await fresh.listen();
  assert.equal((await request(stalePath, 'GET', '/_ping')).status, 200);
  await fresh.close();
});
