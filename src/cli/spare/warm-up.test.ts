import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { warmUp } from './warm-up';

test('a spare warms up run, ps and version against its stand-in daemon and leaves nothing behind', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warm-up-'));
  try {
    const socketPath = path.join(dir, 'warm.sock');
    const listeners = () => ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit'].map((e) => process.listenerCount(e));
    // unix sockets open (the test runner's stdio pipes among them)
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap' || r === 'PipeServerWrap').length;
    const before = listeners();
    const socketsBefore = sockets();
    assert.deepEqual(await warmUp(socketPath), []);
    assert.equal(existsSync(socketPath), false, 'the stand-in socket is removed');
    assert.deepEqual(listeners(), before, 'no signal or exit handler is left for the command');
    // every connection closes (the client's keep-alive ones included)
    const deadline = Date.now() + 5_000;
    while (sockets() > socketsBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sockets(), socketsBefore);
    // a second run (a socket path in use by nothing) works the same
    assert.deepEqual(await warmUp(socketPath), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a warm-up that cannot listen reports it instead of failing the spare', async () => {
  assert.deepEqual((await warmUp('/nonexistent-folder/warm.sock')).map((f) => f.split(':')[0]), ['stand-in']);
});
