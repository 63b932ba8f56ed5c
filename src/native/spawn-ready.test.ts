import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from './index';

const SH = '/bin/sh';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('spawnReady: what the child writes to fd 3 and stderr, stdin and stdout on /dev/null, in cwd', async () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-spawn-')));
  try {
    // The shell redirects in itself (dash): fds 4 and 5, copied first, show what it was given as 0 and 1.
    const script = 'echo "ready $(pwd)" >&3; echo oops >&2; exec 4<&0 5>&1; readlink /proc/self/fd/4 /proc/self/fd/5 >&3';
    const r = await native.spawnReady!([SH, '-c', script], dir, 5000);
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.sync.trim().split('\n'), [`ready ${dir}`, '/dev/null', '/dev/null']);
    assert.equal(r.stderr.trim(), 'oops');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('spawnReady: the child gets default signal dispositions and an empty mask (Node ignores SIGPIPE)', async () => {
  // SigIgn/SigBlk are hex masks.
  const r = await native.spawnReady!([SH, '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status >&3'], null, 5000);
  const lines = r.sync.trim().split('\n');
  assert.match(lines[0]!, /^SigBlk:\s+0+$/);
  // glibc's posix_spawn leaves its own signals 32 and 33 ignored (berth-monitor resets them); nothing else.
  const ignored = BigInt(`0x${lines[1]!.split(/\s+/)[1]}`);
  assert.equal(ignored & ~((1n << 31n) | (1n << 32n)), 0n, `ignored signals: ${lines[1]}`);
});

test('spawnReady: a child that detaches is waited for only until the pipes close', async () => {
  // The direct child exits at once; its own child keeps running without the pipes, as berth-monitor does.
  const started = Date.now();
  const r = await native.spawnReady!([SH, '-c', '(exec 2>/dev/null 3>&-; sleep 3 & echo $! > /dev/null) ; echo detached >&3'], null, 5000);
  assert.equal(r.sync.trim(), 'detached');
  assert.ok(Date.now() - started < 2500, 'did not wait for the background sleep');
});

test('spawnReady: a child that keeps its pipes open past the timeout is killed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-spawn-'));
  const pidFile = path.join(dir, 'pid');
  try {
    const r = await native.spawnReady!([SH, '-c', `echo $$ > ${pidFile}; echo partial >&3; exec sleep 30`], null, 300);
    assert.equal(r.timedOut, true);
    assert.equal(r.sync.trim(), 'partial');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.equal(processExists(pid), false, 'the child was killed and reaped');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('spawnReady: a program that cannot be spawned rejects with its errno; bad arguments throw', async () => {
  await assert.rejects(native.spawnReady!(['/nonexistent/berth-monitor'], null, 1000), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.syscall === 'posix_spawn');
  await assert.rejects(native.spawnReady!([SH], '/nonexistent-dir', 1000), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  assert.throws(() => native.spawnReady!([], null, 1000), /non-empty array/);
  assert.throws(() => native.spawnReady!(['sh', '-c', 'true'], null, 1000), /absolute path/);
  assert.throws(() => native.spawnReady!([SH], null, 0), /positive integer/);
});
