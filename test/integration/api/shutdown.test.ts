import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { rawConnect, request, startHarness, waitFor } from './harness';

test('close() ends hijacked sessions, pending waits and event streams promptly', async () => {
  const h = await startHarness();
  await request(h.socketPath, 'POST', '/containers/create?name=long', { Image: 'busybox', Cmd: ['cat'], OpenStdin: true });
  const attach = rawConnect(
    h.socketPath,
    'POST /containers/long/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
  );
  await waitFor(() => attach.received().includes('\r\n\r\n'));
  const waitDone = new Promise<void>((resolve) => {
    const req = http.request({ socketPath: h.socketPath, method: 'POST', path: '/containers/long/wait?condition=next-exit' }, (res) => {
      res.resume();
      res.on('close', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
  const eventsDone = new Promise<void>((resolve) => {
    const req = http.request({ socketPath: h.socketPath, method: 'GET', path: '/events' }, (res) => {
      res.resume();
      res.on('close', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await h.stop();
  await Promise.all([attach.ended.catch(() => undefined), waitDone, eventsDone]);
  assert.ok(Date.now() - started < 3000, 'closed within the grace period');
  assert.equal(h.backends.containers.find('long').sessions[0]?.closed, true);
});
