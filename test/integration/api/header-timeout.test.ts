import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { demux, rawConnect, request, splitResponse, startHarness, waitFor, type Harness } from './harness';

/** Short, so the test is quick; the daemon's default is 60 s. */
const HEADERS_TIMEOUT_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: Harness;
before(async () => {
  h = await startHarness({ headersTimeoutMs: HEADERS_TIMEOUT_MS });
});
after(async () => {
  await h.stop();
});

test('slowloris: connections that trickle a header forever are closed after the header timeout', async () => {
  const count = 100;
  const opened = Date.now();
  const closedAfter: number[] = [];
  const sockets: net.Socket[] = [];
  let answered408 = 0;
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write(`X-Slow-${Date.now()}: 1\r\n`);
  }, 250);
  try {
    await Promise.all(
      Array.from({ length: count }, () => {
        const socket = net.connect({ path: h.socketPath });
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.on('data', (d: Buffer) => (answered408 += d.toString().startsWith('HTTP/1.1 408 ') ? 1 : 0));
        socket.write('GET /_ping HTTP/1.1\r\nHost: api\r\n');
        return new Promise<void>((resolve) => socket.on('close', () => resolve(void closedAfter.push(Date.now() - opened))));
      }),
    );
  } finally {
    clearInterval(trickle);
    for (const s of sockets) s.destroy();
  }
  assert.equal(closedAfter.length, count);
  assert.equal(answered408, count, `${answered408} of ${count} got 408 Request Timeout`);
  // Node measures from the start of the message, so sending bytes does not reset the clock.
  assert.ok(Math.min(...closedAfter) >= HEADERS_TIMEOUT_MS - 50, `closed early: ${Math.min(...closedAfter)} ms`);
  assert.ok(Math.max(...closedAfter) < HEADERS_TIMEOUT_MS * 6, `closed late: ${Math.max(...closedAfter)} ms`);
  // The server still answers normally afterwards.
  assert.equal((await request(h.socketPath, 'GET', '/_ping')).status, 200);
});

test('an events stream idle for longer than the header timeout stays open', async () => {
  let closed = false;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ socketPath: h.socketPath, method: 'GET', path: '/events' }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.on('close', () => (closed = true));
  res.resume();
  await sleep(HEADERS_TIMEOUT_MS * 3);
  assert.equal(closed, false, 'the events stream was cut');
  res.destroy();
});

test('a hijacked attach idle for longer than the header timeout still carries stdin and output', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=idle', { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, AttachStdin: true });
  const conn = rawConnect(
    h.socketPath,
    'POST /containers/idle/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
  );
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  assert.equal((await request(h.socketPath, 'POST', '/containers/idle/start')).status, 204);
  await sleep(HEADERS_TIMEOUT_MS * 3);
  assert.equal(conn.socket.destroyed, false);
  conn.socket.write('late\n');
  await waitFor(() => splitResponse(conn.received()).body.length >= 13);
  conn.socket.end();
  await conn.ended;
  assert.deepEqual(demux(splitResponse(conn.received()).body), [[1, 'late\n']]);
});

test('a request whose headers are in may send its body slowly', async () => {
  const body = JSON.stringify({ Image: 'busybox', Cmd: ['true'] });
  const conn = rawConnect(
    h.socketPath,
    `POST /containers/create?name=slowbody HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
  );
  await sleep(HEADERS_TIMEOUT_MS * 2);
  conn.socket.write(body.slice(5));
  await waitFor(() => conn.received().includes('\r\n\r\n'), 5000);
  assert.match(splitResponse(conn.received()).head, /^HTTP\/1\.1 201 /);
  conn.socket.destroy();
});
