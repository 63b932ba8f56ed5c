import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { needsRoot } from '../../helpers/root';
import { REPO_ROOT } from '../../helpers/test-daemon';
import { runCommand } from '../../helpers/cli';

/** A test file that needs root, run here as nobody. */
const ROOT_TEST = path.join(REPO_ROOT, 'dist', 'test', 'integration', 'layers', 'overlay.test.js');
const asNobody = (env: NodeJS.ProcessEnv) =>
  // Without NODE_TEST_CONTEXT the child runner prints TAP instead of reporting to this one.
  runCommand('env', ['-u', 'NODE_TEST_CONTEXT', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--test', '--test-reporter=tap', ROOT_TEST], { env });

test('without root, a root test skips; with BERTH_REQUIRE_ROOT=1 it fails instead', { skip: needsRoot('needs root (setpriv to nobody)') }, async () => {
  const skipped = await asNobody({ BERTH_REQUIRE_ROOT: '' });
  assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
  assert.match(skipped.stdout, /^# skipped [1-9]/m);
  assert.match(skipped.stdout, /^# fail 0/m);

  const required = await asNobody({ BERTH_REQUIRE_ROOT: '1' });
  assert.notEqual(required.code, 0, 'a skipped root test must fail the run');
  assert.match(required.stdout, /BERTH_REQUIRE_ROOT=1 and this test says "needs root for overlay mounts", but it runs as uid 65534/);
  assert.match(required.stdout, /^# fail [1-9]/m);
});
