import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedExclusiveLock } from './shared-lock';

const tick = () => new Promise((r) => setImmediate(r));

test('shared holders run together, an exclusive one alone, and a waiting exclusive goes before later shared requests', async () => {
  const lock = new SharedExclusiveLock();
  const log: string[] = [];
  let releaseA!: () => void;
  const a = lock.runShared(async () => {
    log.push('a+');
    await new Promise<void>((r) => (releaseA = r));
    log.push('a-');
  });
  const b = lock.runShared(async () => {
    log.push('b');
  });
  await tick();
  const x = lock.runExclusive(async () => {
    log.push('x+');
    await tick();
    log.push('x-');
  });
  const c = lock.runShared(async () => {
    log.push('c');
  });
  await tick();
  assert.deepEqual(log, ['a+', 'b']);
  releaseA();
  await Promise.all([a, b, x, c]);
  assert.deepEqual(log, ['a+', 'b', 'a-', 'x+', 'x-', 'c']);
});

test('a failing holder releases the lock', async () => {
  const lock = new SharedExclusiveLock();
  await assert.rejects(lock.runExclusive(async () => Promise.reject(new Error('boom'))), /boom/);
  await assert.rejects(lock.runShared(async () => Promise.reject(new Error('bang'))), /bang/);
  assert.equal(await lock.runExclusive(async () => 5), 5);
});
