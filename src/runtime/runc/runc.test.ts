import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Runc, readRuntimeError } from './runc';

test('run and exec argv carry global flags, console socket and detach', () => {
  const runc = new Runc({ root: '/r' });
  assert.deepEqual(runc.runArgv('c1', { bundle: '/b', pidFile: '/p', detach: true, logFile: '/l' }), [
    'runc', '--root', '/r', '--log', '/l', '--log-format', 'json', 'run', '--bundle', '/b', '--pid-file', '/p', '--detach', 'c1',
  ]);
  assert.deepEqual(runc.execArgv('c1', { processJsonPath: '/pj', pidFile: '/p', consoleSocket: '/cs', detach: true, logFile: '/l' }), [
    'runc', '--root', '/r', '--log', '/l', '--log-format', 'json', 'exec', '--process', '/pj', '--pid-file', '/p', '--console-socket', '/cs', '--detach', 'c1',
  ]);
});

test('readRuntimeError returns the last error-level message', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runc-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'log');
  assert.equal(await readRuntimeError(log), undefined);
  await fs.writeFile(log, [
    '{"level":"warning","msg":"ignored","time":"x"}',
    '{"level":"error","msg":"first","time":"x"}',
    '{"level":"error","msg":"runc run failed: boom","time":"x"}',
    '{"level":"info","msg":"later info","time":"x"}',
  ].join('\n') + '\n');
  assert.equal(await readRuntimeError(log), 'runc run failed: boom');
});
