import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerExits } from './container-exits';
import type { Container, ContainerContext } from './container-context';

const running = { Id: 'c1', State: { Status: 'running', ExitCode: 0, Error: '' } } as unknown as Container;
const exited = { Id: 'c1', State: { Status: 'exited', ExitCode: 3, Error: '' } } as unknown as Container;
const exits = () => new ContainerExits({} as ContainerContext, { removeLocked: async () => undefined, restartLocked: async () => undefined });

test('a waiter whose client went away is dropped: the exit no longer reaches it', async () => {
  const e = exits();
  const gone = new AbortController();
  let reachedGone = false;
  void e.wait(running, 'not-running', gone.signal).then(() => (reachedGone = true));
  const stays = e.wait(running, 'not-running', new AbortController().signal);
  gone.abort();
  e.notifyWaiters(exited, 'exit');
  assert.deepEqual(await stays, { StatusCode: 3, Error: null });
  await new Promise((r) => setImmediate(r));
  assert.equal(reachedGone, false);
  // Nothing is left to notify: a later exit finds no waiter (the map entry is gone).
  assert.equal((e as unknown as { waiters: Map<string, unknown[]> }).waiters.has('c1'), false);
});

test('a wait asked for with an aborted signal registers nothing', () => {
  const e = exits();
  const gone = new AbortController();
  gone.abort();
  void e.wait(running, 'next-exit', gone.signal);
  assert.equal((e as unknown as { waiters: Map<string, unknown[]> }).waiters.has('c1'), false);
});
