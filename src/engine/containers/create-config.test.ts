import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeEnv, replaceOrAppendEnv } from './create-config';
import { withDefaultEnv } from './runtime-spec';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

test('Config.Env as dockerd stores it: the request first, then the image entries it does not name', () => {
  assert.deepEqual(mergeEnv([PATH, 'X=image'], ['NO_DEF', 'K=', 'X']), ['NO_DEF', 'K=', 'X', PATH]);
  assert.deepEqual(mergeEnv(['A=1'], []), ['A=1']);
});

test('replaceOrAppendEnv: replace by key, append, an entry without "=" unsets and is dropped', () => {
  assert.deepEqual(replaceOrAppendEnv([PATH, 'HOSTNAME=h'], ['K=', 'HOSTNAME', 'A=1', 'A=2', 'NO_DEF', 'PATH=/bin']), ['PATH=/bin', 'K=', 'A=2']);
  assert.deepEqual(replaceOrAppendEnv(['B=1'], ['B', 'B=2']), ['B=2'], 'set again after an unset: back in its place');
});

test('the process env: PATH, HOSTNAME, TERM with a TTY, HOME from the user; an unset default stays unset', () => {
  assert.deepEqual(withDefaultEnv(['NO_DEF', 'K=', 'A=1'], 'h', false, '/root'), [PATH, 'HOSTNAME=h', 'K=', 'A=1', 'HOME=/root']);
  assert.deepEqual(withDefaultEnv(['HOSTNAME', 'PATH'], 'h', true, '/home/u'), ['TERM=xterm', 'HOME=/home/u']);
  assert.deepEqual(withDefaultEnv(['HOME=/x'], 'h', false, '/root'), [PATH, 'HOSTNAME=h', 'HOME=/x']);
});
