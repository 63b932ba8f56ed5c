import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nativeBuildDir } from '../../native/build-dir';

const ADDON = path.join(nativeBuildDir(), 'berth_cli_spare.node');

/**
 * A spare waits for a request in the addon's blocking acceptRequest and, every idleMs, checks
 * that its socket file is still its own. Signals interrupt the wait (a profiler's SIGPROF,
 * here SIGUSR2 every 10 ms): each used to start idleMs again, so the spare never looked and
 * outlived its socket file. Runs in a child so that a wait that never ends fails the test.
 */
test('acceptRequest returns null after idleMs even while signals keep interrupting it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spare-accept-'));
  try {
    const script = `
      const { spawn } = require('node:child_process');
      const addon = require(${JSON.stringify(ADDON)});
      process.on('SIGUSR2', () => undefined);
      const fd = addon.listenUnix(${JSON.stringify(path.join(dir, 'cli.sock'))});
      const signaller = spawn('sh', ['-c', 'while kill -USR2 ' + process.pid + ' 2>/dev/null; do sleep 0.01; done'], { stdio: 'ignore' });
      setTimeout(() => {
        const start = Date.now();
        const request = addon.acceptRequest(fd, process.getuid(), 300);
        const elapsed = Date.now() - start;
        signaller.kill();
        console.log(JSON.stringify({ request, elapsed }));
      }, 100);`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    const { request, elapsed } = JSON.parse(out) as { request: unknown; elapsed: number };
    assert.equal(request, null);
    assert.ok(elapsed >= 290, `returned after ${elapsed} ms, before idleMs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
