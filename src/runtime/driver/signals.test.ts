import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSignal } from './signals';
import { isInvalidArgument } from '../../errors';

test('parseSignal accepts Docker forms', () => {
  assert.equal(parseSignal('SIGTERM'), 15);
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('15'), 15);
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('sighup'), 1);
  assert.equal(parseSignal(9), 9);
  assert.equal(parseSignal('RTMIN+3'), 37);
  for (const bad of ['FOO', '0', '65', 'SIGFOO', '']) {
    assert.throws(() => parseSignal(bad), (e: unknown) => isInvalidArgument(e) && (e as Error).message === `Invalid signal: ${bad}`);
  }
});
