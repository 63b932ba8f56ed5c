import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PoolDigester } from './pool-digester';
import { hasAsyncHash } from '../native';

test('a PoolDigester is the sha256 and length of every chunk in order, however the updates and waits interleave', async () => {
  const digester = new PoolDigester();
  const reference = createHash('sha256');
  let size = 0;
  for (let i = 0; i < 200; i++) {
    const chunk = randomBytes(i % 7 === 0 ? 0 : 1 + ((i * 7919) % 70_000));
    digester.update(chunk);
    reference.update(chunk);
    size += chunk.length;
    if (i % 13 === 0) await digester.drain(100_000);
    if (i % 29 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(digester.size, size);
  assert.equal(await digester.digest(), `sha256:${reference.digest('hex')}`);
});

test('a PoolDigester of nothing is the empty sha256', async () => {
  assert.equal(await new PoolDigester().digest(), `sha256:${createHash('sha256').digest('hex')}`);
});

test('drain waits until no more than the given bytes wait for their hash', { skip: hasAsyncHash() ? false : 'no sha256UpdateAsync in this addon' }, async () => {
  const digester = new PoolDigester();
  for (let i = 0; i < 20; i++) digester.update(randomBytes(1 << 20));
  await digester.drain(2 << 20);
  assert.ok((digester as unknown as { queued: number }).queued <= 2 << 20);
  await digester.digest();
});
