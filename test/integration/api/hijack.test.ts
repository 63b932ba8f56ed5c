import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demux, rawConnect, request, splitResponse, startHarness, waitFor, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.stop();
});

const upgradeRequest = (path: string, body = '') =>
  `POST ${path} HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('attach with Upgrade: 101, multiplexed frames, stdin half-close ends stdin only', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=cat1', { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, AttachStdin: true });
  const conn = rawConnect(h.socketPath, upgradeRequest('/v1.45/containers/cat1/attach?stream=1&stdin=1&stdout=1&stderr=1'));
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  const { head } = splitResponse(conn.received());
  assert.match(head, /^HTTP\/1\.1 101 UPGRADED\r\n/);
  assert.match(head, /\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream\r\n/);
  assert.match(head, /\r\nConnection: Upgrade\r\n/);
  assert.match(head, /\r\nUpgrade: tcp\r\n/);
  assert.match(head, /\r\nApi-Version: 1\.45\r\n/);

  assert.equal((await request(h.socketPath, 'POST', '/containers/cat1/start')).status, 204);
  conn.socket.write('hello\n');
  await waitFor(() => splitResponse(conn.received()).body.length >= 14);
  conn.socket.end(); // CloseWrite, as the docker CLI does after stdin EOF
  await conn.ended; // the server closes once output has ended
  assert.deepEqual(demux(splitResponse(conn.received()).body), [[1, 'hello\n']]);
  const state = (await request(h.socketPath, 'GET', '/containers/cat1/json')).json<{ State: { Status: string } }>();
  assert.equal(state.State.Status, 'exited');
});

test('output keeps flowing after the client half-closes at once', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=echo1', { Image: 'busybox', Cmd: ['echo', 'hi'] });
  const conn = rawConnect(h.socketPath, upgradeRequest('/containers/echo1/attach?stream=1&stdout=1&stderr=1'));
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  conn.socket.end();
  await new Promise((r) => setTimeout(r, 50));
  await request(h.socketPath, 'POST', '/containers/echo1/start');
  await conn.ended;
  assert.deepEqual(demux(splitResponse(conn.received()).body), [[1, 'hi\n']]);
});

test('attach without Upgrade: 200 OK raw-stream, close-delimited', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=echo2', { Image: 'busybox', Cmd: ['echo', 'plain'] });
  const conn = rawConnect(h.socketPath, 'POST /containers/echo2/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\n\r\n');
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  const { head } = splitResponse(conn.received());
  assert.match(head, /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/vnd\.docker\.raw-stream\r\n/);
  assert.doesNotMatch(head, /Transfer-Encoding|Content-Length/i);
  await request(h.socketPath, 'POST', '/containers/echo2/start');
  await conn.ended;
  assert.deepEqual(demux(splitResponse(conn.received()).body), [[1, 'plain\n']]);
});

test('attach to a TTY container is raw', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=tty1', { Image: 'busybox', Cmd: ['echo', 'tty'], Tty: true });
  const conn = rawConnect(h.socketPath, upgradeRequest('/containers/tty1/attach?stream=1&stdout=1&stderr=1'));
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  assert.match(splitResponse(conn.received()).head, /Content-Type: application\/vnd\.docker\.raw-stream/);
  await request(h.socketPath, 'POST', '/containers/tty1/start');
  await conn.ended;
  assert.equal(splitResponse(conn.received()).body.toString(), 'tty\r\n');
});

test('an Upgrade request that fails before hijacking gets a JSON error', async () => {
  const conn = rawConnect(h.socketPath, upgradeRequest('/containers/ghost/attach?stream=1&stdout=1'));
  await conn.ended;
  const { head, body } = splitResponse(conn.received());
  assert.match(head, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.deepEqual(JSON.parse(body.toString()), { message: 'No such container: ghost' });
});

test('exec start with Upgrade streams stdout and stderr, then inspect has the exit code', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=runner', { Image: 'busybox', Cmd: ['sleep'] });
  await request(h.socketPath, 'POST', '/containers/runner/start');
  const created = await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: ['echo', 'from', 'exec'], AttachStdout: true, AttachStderr: true });
  assert.equal(created.status, 201);
  const { Id } = created.json<{ Id: string }>();
  const conn = rawConnect(h.socketPath, upgradeRequest(`/v1.45/exec/${Id}/start`, JSON.stringify({ Detach: false, Tty: false })));
  await conn.ended;
  const { head, body } = splitResponse(conn.received());
  assert.match(head, /^HTTP\/1\.1 101 UPGRADED\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream/);
  assert.deepEqual(demux(body), [
    [1, 'from exec\n'],
    [2, 'to stderr\n'],
  ]);
  const inspect = (await request(h.socketPath, 'GET', `/exec/${Id}/json`)).json<{ ExitCode: number; Running: boolean }>();
  assert.equal(inspect.ExitCode, 3);
  assert.equal(inspect.Running, false);

  const missingCmd = await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: [] });
  assert.equal(missingCmd.status, 400);
  const ghost = await request(h.socketPath, 'POST', '/exec/nope/start', { Detach: true });
  assert.equal(ghost.status, 404);
});

test('exec start: tty is raw, stdin half-close ends the process, detach answers 200', async () => {
  const { Id } = (await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, Tty: true })).json<{ Id: string }>();
  const conn = rawConnect(h.socketPath, upgradeRequest(`/exec/${Id}/start`, JSON.stringify({ Tty: true })));
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  assert.match(splitResponse(conn.received()).head, /Content-Type: application\/vnd\.docker\.raw-stream/);
  conn.socket.end('typed\n');
  await conn.ended;
  assert.equal(splitResponse(conn.received()).body.toString(), 'typed\n');

  const resize = await request(h.socketPath, 'POST', `/exec/${Id}/resize?h=40&w=120`);
  assert.equal(resize.status, 200);
  assert.deepEqual(h.backends.exec.execs.get(Id)?.resizes, [[40, 120]]);

  const detached = (await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: ['true'] })).json<{ Id: string }>();
  const start = await request(h.socketPath, 'POST', `/exec/${detached.Id}/start`, { Detach: true });
  assert.equal(start.status, 200);
  assert.equal(start.body.length, 0);
});

test('a client that disconnects mid-attach detaches the session', async () => {
  await request(h.socketPath, 'POST', '/containers/create?name=cat2', { Image: 'busybox', Cmd: ['cat'], OpenStdin: true });
  const conn = rawConnect(h.socketPath, upgradeRequest('/containers/cat2/attach?stream=1&stdin=1&stdout=1'));
  await waitFor(() => conn.received().includes('\r\n\r\n'));
  conn.socket.destroy();
  const container = h.backends.containers.find('cat2');
  // Like moby, a vanished client is noticed when output cannot be written.
  for (let i = 0; i < 50 && container.sessions[0]?.closed !== true; i++) {
    container.sessions[0]?.write('stdout', 'x'.repeat(1024));
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(container.sessions[0]?.closed, true);
});

test('exec start answers its headers before the process starts (docker-py reads them apart from output)', async () => {
  let openGate = () => {};
  h.backends.exec.processGate = new Promise<void>((resolve) => (openGate = resolve));
  try {
    const { Id } = (await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: ['echo', 'gated'], AttachStdout: true })).json<{ Id: string }>();
    const conn = rawConnect(h.socketPath, upgradeRequest(`/v1.45/exec/${Id}/start`, JSON.stringify({ Tty: false })));
    // The process is held back: the 101 must come anyway, alone.
    await waitFor(() => conn.received().includes('\r\n\r\n'));
    const early = splitResponse(conn.received());
    assert.match(early.head, /^HTTP\/1\.1 101 UPGRADED\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream/);
    assert.equal(early.body.length, 0);
    openGate();
    await conn.ended;
    assert.deepEqual(demux(splitResponse(conn.received()).body), [
      [1, 'gated\n'],
      [2, 'to stderr\n'],
    ]);
  } finally {
    openGate();
    h.backends.exec.processGate = undefined;
  }
});

test('an exec that fails to start after the headers went out says why in the stream, as dockerd does', async () => {
  const { Id } = (await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: ['nosuchcmd'], AttachStdout: true })).json<{ Id: string }>();
  const conn = rawConnect(h.socketPath, upgradeRequest(`/v1.45/exec/${Id}/start`, JSON.stringify({ Tty: false })));
  await conn.ended;
  const { head, body } = splitResponse(conn.received());
  assert.match(head, /^HTTP\/1\.1 101 UPGRADED\r\n/);
  assert.deepEqual(demux(body), [[1, 'OCI runtime exec failed: exec: "nosuchcmd": executable file not found in $PATH: unknown\r\n']]);

  const { Id: ttyId } = (await request(h.socketPath, 'POST', '/containers/runner/exec', { Cmd: ['nosuchcmd'], AttachStdout: true, Tty: true })).json<{ Id: string }>();
  const ttyConn = rawConnect(h.socketPath, upgradeRequest(`/v1.45/exec/${ttyId}/start`, JSON.stringify({ Tty: true })));
  await ttyConn.ended;
  assert.match(splitResponse(ttyConn.received()).body.toString(), /^OCI runtime exec failed: .*executable file not found in \$PATH: unknown\r\n$/);
});
