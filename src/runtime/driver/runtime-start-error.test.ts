import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeStartError } from './runtime-start-error';

test('runc\'s words keep runc\'s name, as in Docker\'s message', () => {
  const err = runtimeStartError('create', 'runc run failed: unable to start container process: exec: "x": executable file not found in $PATH');
  assert.equal(err.message, 'OCI runtime create failed: runc create failed: unable to start container process: exec: "x": executable file not found in $PATH: unknown');
  assert.equal(err.exitCode, 127);
});

test('crun\'s missing command is put in runc\'s words (127), its permission error too (126)', () => {
  const missing = runtimeStartError('exec', 'executable file `no such` not found in $PATH: No such file or directory');
  assert.equal(missing.message, 'OCI runtime exec failed: unable to start container process: exec: "no such": executable file not found in $PATH: unknown');
  assert.equal(missing.exitCode, 127);
  const denied = runtimeStartError('create', 'open executable: Permission denied');
  assert.equal(denied.message, 'OCI runtime create failed: unable to start container process: exec: permission denied: unknown');
  assert.equal(denied.exitCode, 126);
  const other = runtimeStartError('create', 'cannot setns `/x`: Invalid argument');
  assert.equal(other.exitCode, undefined);
});
