import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { MonitorConnection } from '../../../src/runtime/monitor/client';
import { monitorArgv, monitorBinaryPath, spawnMonitor } from '../../../src/runtime/monitor/spawn-monitor';
import { readLog } from '../../../src/runtime/monitor/log-reader';
import { LOG_INDEX_PAYLOAD_SIZE, LOG_RECORD_HEADER_SIZE, LOG_STREAM_INDEX, type ExitStatus } from '../../../src/runtime/monitor/protocol';
import { native } from '../../../src/native';
import { collect, directRunOptions, fakeRunOptions, makeFixture, parentPid, rssKb, sessionOf, startAndConnect, text, waitFor } from './helpers';

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

test('runs through a detaching runtime, streams output, logs it and records the exit', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect(fakeRunOptions(f, 'echo hi; echo err >&2; exit 3'));
    const out = collect(conn);
    conn.start();
    const pid = await conn.waitStarted();
    assert.ok(pid > 0);
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 3);
    assert.equal(status.signal, undefined);
    assert.match(status.finishedAt, RFC3339_NANO);
    assert.equal(text(out.stdout), 'hi\n');
    assert.equal(text(out.stderr), 'err\n');

    const fromFile = JSON.parse(fs.readFileSync(f.exitFile, 'utf8')) as ExitStatus;
    assert.deepEqual(fromFile, status);

    // Raw records: stream byte, ns timestamp, length, data.
    const raw = fs.readFileSync(f.logPath);
    const records: Array<{ stream: number; data: string; length: number; ns: bigint }> = [];
    for (let o = 0; o < raw.length; ) {
      const length = raw.readUInt32BE(o + 9);
      records.push({ stream: raw[o]!, ns: raw.readBigUInt64BE(o + 1), length, data: raw.subarray(o + 13, o + 13 + length).toString() });
      o += LOG_RECORD_HEADER_SIZE + length;
    }
    // First an index header (stream 3, 18-byte payload), then the output.
    assert.equal(records[0]!.stream, LOG_STREAM_INDEX);
    assert.equal(records[0]!.length, LOG_INDEX_PAYLOAD_SIZE);
    assert.deepEqual(records.slice(1).map((r) => [r.stream, r.data]).sort(), [[1, 'hi\n'], [2, 'err\n']]);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    for (const r of records) assert.ok(r.ns > nowNs - 60_000_000_000n && r.ns <= nowNs);

    const lines = [];
    for await (const line of readLog(f.logPath)) lines.push(`${line.stream}:${line.line.toString()}`);
    assert.deepEqual(lines.sort(), ['stderr:err\n', 'stdout:hi\n']);

    await waitFor(() => !fs.existsSync(f.socketPath));
    await waitFor(() => conn.isClosed);
  } finally {
    f.cleanup();
  }
});

test('without wait-start the runtime runs at once and the monitor outlives its caller', async () => {
  const f = makeFixture();
  try {
    await spawnMonitor(fakeRunOptions(f, 'sleep 1; echo done', { waitStart: false }));
    const conn = await MonitorConnection.connect(f.socketPath);
    const pid = await conn.waitStarted();
    // The process was reparented to the monitor (subreaper); the monitor is not our child.
    const monitorPid = parentPid(pid);
    assert.notEqual(monitorPid, process.pid);
    assert.notEqual(parentPid(monitorPid), process.pid);
    // In a session of its own, which it does not lead (it can never get a controlling terminal).
    assert.notEqual(sessionOf(monitorPid), sessionOf(process.pid));
    assert.notEqual(sessionOf(monitorPid), monitorPid);
    const rss = rssKb(monitorPid);
    console.log(`berth-monitor VmRSS while the process runs: ${rss} kB`);
    assert.ok(rss < 2560, `monitor RSS ${rss} kB`);
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 0);
    await waitFor(() => fs.existsSync(f.exitFile));
  } finally {
    f.cleanup();
  }
});

test('spawned as a process group leader (setsid fails there), it still detaches into a session it does not lead', async () => {
  const f = makeFixture();
  try {
    const opts = fakeRunOptions(f, 'sleep 1', { waitStart: false });
    // detached: the child leads its own session and process group, as a shell's job would lead its group.
    const child = spawn(monitorBinaryPath(), monitorArgv(opts, 3), { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const sync: Buffer[] = [];
    (child.stdio[3] as Readable).on('data', (b: Buffer) => sync.push(b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(await exited, 0);
    await waitFor(() => Buffer.concat(sync).toString().startsWith('ready'));
    const conn = await MonitorConnection.connect(f.socketPath);
    const pid = await conn.waitStarted();
    const monitorPid = parentPid(pid);
    assert.notEqual(monitorPid, child.pid);
    assert.notEqual(parentPid(monitorPid), child.pid);
    assert.notEqual(sessionOf(monitorPid), monitorPid);
    assert.notEqual(sessionOf(monitorPid), sessionOf(process.pid));
    assert.equal((await conn.waitExited()).exitCode, 0);
    await waitFor(() => fs.existsSync(f.exitFile));
  } finally {
    f.cleanup();
  }
});

test('wait-start holds the runtime until START', async () => {
  const f = makeFixture();
  try {
    const marker = path.join(f.dir, 'ran');
    const conn = await startAndConnect(fakeRunOptions(f, `touch ${marker}`));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fs.existsSync(marker), false);
    assert.equal(fs.existsSync(f.pidFile), false);
    conn.start();
    conn.start(); // only the first START counts
    assert.equal((await conn.waitExited()).exitCode, 0);
    assert.equal(fs.existsSync(marker), true);
  } finally {
    f.cleanup();
  }
});

test('stdin round trip through cat, closed by STDIN_CLOSE', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect(fakeRunOptions(f, 'exec cat', { stdin: true }));
    const out = collect(conn);
    // Input sent before the process runs is buffered, not lost.
    conn.writeStdin(Buffer.from('early\n'));
    conn.start();
    await conn.waitStarted();
    conn.writeStdin(Buffer.from('hello '));
    conn.writeStdin(Buffer.from('world\n'));
    conn.closeStdin();
    assert.equal((await conn.waitExited()).exitCode, 0);
    assert.equal(text(out.stdout), 'early\nhello world\n');
  } finally {
    f.cleanup();
  }
});

test('two clients both get the output and the exit', async () => {
  const f = makeFixture();
  try {
    const a = await startAndConnect(fakeRunOptions(f, 'echo one; sleep 0.2; echo two'));
    const b = await MonitorConnection.connect(f.socketPath);
    const outA = collect(a);
    const outB = collect(b);
    b.start();
    const [sa, sb] = await Promise.all([a.waitExited(), b.waitExited()]);
    assert.deepEqual(sa, sb);
    assert.equal(text(outA.stdout), 'one\ntwo\n');
    assert.equal(text(outB.stdout), 'one\ntwo\n');
  } finally {
    f.cleanup();
  }
});

test('a process killed by a signal reports 128+signal', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect(fakeRunOptions(f, 'kill -9 $$'));
    conn.start();
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 137);
    assert.equal(status.signal, 9);
  } finally {
    f.cleanup();
  }
});

test('a failing runtime sends ERROR and writes exit code 127 with the reason', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect({
      ...fakeRunOptions(f, ''),
      runtimeArgv: ['sh', '-c', 'echo "container_linux.go: no such image" >&2; exit 2'],
    });
    conn.start();
    await assert.rejects(conn.waitStarted(), /runtime exited with status 2: container_linux.go: no such image/);
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 127);
    assert.match(status.error ?? '', /status 2/);
    await waitFor(() => fs.existsSync(f.exitFile));
    assert.equal((JSON.parse(fs.readFileSync(f.exitFile, 'utf8')) as ExitStatus).exitCode, 127);
  } finally {
    f.cleanup();
  }
});

test('direct mode (no pid file): the argv is the process', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect({
      socketPath: f.socketPath,
      exitFile: f.exitFile,
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['sh', '-c', 'echo direct; exit 5'],
    });
    const out = collect(conn);
    conn.start();
    assert.ok((await conn.waitStarted()) > 0);
    assert.equal((await conn.waitExited()).exitCode, 5);
    assert.equal(text(out.stdout), 'direct\n');
  } finally {
    f.cleanup();
  }
});

test('the process starts with no signal ignored or blocked (the daemon ignores SIGPIPE; posix_spawn hands over glibc\'s 32 and 33 ignored)', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect({
      socketPath: f.socketPath,
      exitFile: f.exitFile,
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['sh', '-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status'],
    });
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    assert.match(text(out.stdout), /^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
  } finally {
    f.cleanup();
  }
});

test('a client that reads nothing does not stall the process forever', { timeout: 30_000 }, async () => {
  const f = makeFixture();
  try {
    const slow = await startAndConnect(fakeRunOptions(f, 'head -c 8000000 /dev/zero; echo end'));
    const reader = await MonitorConnection.connect(f.socketPath);
    // Stop reading on `slow`: its socket buffers fill, and the monitor must drop it.
    const slowSocket = (slow as unknown as { socket: { pause(): void; resume(): void } }).socket;
    slowSocket.pause();
    let received = 0;
    reader.on('stdout', (b) => (received += b.length));
    reader.start();
    const status = await reader.waitExited();
    assert.equal(status.exitCode, 0);
    assert.equal(received, 8_000_004);
    // The stalled client held output for a grace period, then was dropped.
    let slowReceived = 0;
    slow.on('stdout', (b) => (slowReceived += b.length));
    slowSocket.resume();
    await waitFor(() => slow.isClosed);
    assert.ok(slowReceived < 8_000_004);
    slow.close();
  } finally {
    f.cleanup();
  }
});

test('spawnMonitor reports setup failures with the argv', async () => {
  const f = makeFixture();
  try {
    await assert.rejects(
      spawnMonitor(fakeRunOptions(f, 'true', { socketPath: path.join(f.dir, 'missing', 'm.sock') })),
      (err: Error) => {
        assert.match(err.message, /berth-monitor failed to start \(.*berth-monitor --socket .*missing\/m\.sock.*\): listen on .*No such file or directory/);
        return true;
      },
    );
  } finally {
    f.cleanup();
  }
});

test('a process that is not the monitor\'s child is watched by pidfd (status unknown: 255)', async () => {
  const f = makeFixture();
  const { spawn } = await import('node:child_process');
  const stranger = spawn('sleep', ['0.5'], { stdio: 'ignore' });
  try {
    const gone = await startAndConnect({
      ...fakeRunOptions(f, ''),
      // The "runtime" names a process it does not own and exits 0.
      runtimeArgv: ['sh', '-c', `echo ${stranger.pid} > ${f.pidFile}`],
    });
    gone.start();
    assert.equal(await gone.waitStarted(), stranger.pid);
    const status = await gone.waitExited();
    assert.equal(status.exitCode, 255);
  } finally {
    stranger.kill();
    f.cleanup();
  }
});

test('the log is indexed: sync records every 64 KiB, a reopen record when a new monitor appends', async () => {
  const f = makeFixture();
  try {
    // 300 KiB of numbered lines, then an unfinished line.
    const script = 'i=0; while [ $i -lt 30000 ]; do echo "line $i abcdefg"; i=$((i+1)); done; printf unfinished';
    let conn = await startAndConnect(fakeRunOptions(f, script));
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    await waitFor(() => !fs.existsSync(f.socketPath));
    fs.rmSync(f.exitFile, { force: true });
    conn = await startAndConnect(fakeRunOptions(f, 'echo second run'));
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    await waitFor(() => !fs.existsSync(f.socketPath));

    const raw = fs.readFileSync(f.logPath);
    const index: Array<{ offset: number; kind: number; midLine: number; nonce: string }> = [];
    let sinceIndex = 0;
    let largestGap = 0;
    for (let o = 0; o < raw.length; ) {
      const length = raw.readUInt32BE(o + 9);
      if (raw[o] === LOG_STREAM_INDEX) {
        const payload = raw.subarray(o + 13, o + 13 + length);
        index.push({ offset: o, kind: payload[1]! & 15, midLine: payload[1]! >> 4, nonce: payload.subarray(2).toString('hex') });
        largestGap = Math.max(largestGap, sinceIndex);
        sinceIndex = 0;
      } else {
        sinceIndex += 13 + length;
      }
      o += LOG_RECORD_HEADER_SIZE + length;
    }
    assert.equal(index[0]!.offset, 0);
    assert.equal(index[0]!.kind, 0, 'a header first');
    assert.ok(index.filter((i) => i.kind === 1).length >= 4, 'sync records every 64 KiB');
    assert.ok(largestGap < 64 * 1024 + 32 * 1024 + 13, `at most 64 KiB plus one record between index records (${largestGap})`);
    assert.equal(new Set(index.map((i) => i.nonce)).size, 1, 'one nonce per log');
    assert.equal(index.filter((i) => i.kind === 2).length, 1, 'one reopen record');

    const lines: string[] = [];
    for await (const line of readLog(f.logPath, { tail: 3 })) lines.push(line.line.toString());
    assert.deepEqual(lines, ['line 29999 abcdefg\n', 'unfinished', 'second run\n']);
  } finally {
    f.cleanup();
  }
});

test('readLog reads a rotated log oldest first, and -f follows it across rotations', async () => {
  const f = makeFixture();
  try {
    const script = 'for i in $(seq 1 100); do printf "%099d\\n" $i; sleep 0.01; done';
    const conn = await startAndConnect(fakeRunOptions(f, script, { logMaxSize: 2000, logMaxFiles: 3 }));
    const followed: string[] = [];
    const following = (async () => {
      const done = () => fs.existsSync(f.exitFile);
      for await (const line of readLog(f.logPath, { follow: true, isDone: done, pollIntervalMs: 20 })) followed.push(line.line.toString().trim());
    })();
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    await following;
    const numbers = (lines: string[]) => lines.map(Number);
    assert.deepEqual(numbers(followed), Array.from({ length: 100 }, (_, i) => i + 1), 'the follower saw every line once, in order');
    assert.ok(fs.existsSync(`${f.logPath}.2`) && !fs.existsSync(`${f.logPath}.3`), 'three files kept');
    const kept: string[] = [];
    for await (const line of readLog(f.logPath)) kept.push(line.line.toString().trim());
    assert.ok(kept.length >= 30 && kept.length < 100, `${kept.length} lines kept`);
    assert.deepEqual(numbers(kept), Array.from({ length: kept.length }, (_, i) => 100 - kept.length + i + 1));
    const last: string[] = [];
    for await (const line of readLog(f.logPath, { tail: 25 })) last.push(line.line.toString().trim());
    assert.deepEqual(numbers(last), Array.from({ length: 25 }, (_, i) => 76 + i));
  } finally {
    f.cleanup();
  }
});

test('--runtime-fd: the runtime is exec\'d from the fd (not argv[0]), which the monitor holds until then and the process never gets', async () => {
  const f = makeFixture();
  const source = path.join(f.dir, 'busybox');
  fs.copyFileSync('/bin/busybox', source);
  fs.chmodSync(source, 0o755);
  const copy = await native.sealedCopy!(source);
  try {
    // argv[0] names no file: only the fd can run. busybox picks the applet from argv[1].
    const conn = await startAndConnect({
      socketPath: f.socketPath,
      exitFile: f.exitFile,
      monitorPidFile: path.join(f.dir, 'monitor.pid'),
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['/nonexistent/busybox', 'sh', '-c', 'readlink /proc/self/exe; ls /proc/self/fd'],
      runtimeFd: copy.fd,
    });
    const monitorPid = Number(fs.readFileSync(path.join(f.dir, 'monitor.pid'), 'utf8'));
    assert.equal(fs.readlinkSync(`/proc/${monitorPid}/fd/4`), '/memfd:busybox (deleted)');
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    const [exe, ...fds] = text(out.stdout).trim().split('\n');
    assert.equal(exe, '/memfd:busybox (deleted)');
    assert.deepEqual(fds, ['0', '1', '2', '3'], 'stdio and ls\'s own dir fd only');
  } finally {
    fs.closeSync(copy.fd);
    f.cleanup();
  }
});

test('--runtime-env replaces a variable the monitor has, once; a runtime that cannot be run says why', async () => {
  const f = makeFixture();
  process.env.BERTH_RUNTIME_ENV_REPLACED = 'old';
  try {
    const conn = await startAndConnect({
      socketPath: f.socketPath,
      exitFile: f.exitFile,
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['sh', '-c', 'env | grep -c "^BERTH_RUNTIME_ENV_REPLACED="; echo "$BERTH_RUNTIME_ENV_REPLACED"'],
      runtimeEnv: ['BERTH_RUNTIME_ENV_REPLACED=new'],
    });
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    assert.equal(text(out.stdout), '1\nnew\n');
  } finally {
    delete process.env.BERTH_RUNTIME_ENV_REPLACED;
    f.cleanup();
  }
  const g = makeFixture();
  try {
    const conn = await startAndConnect({ socketPath: g.socketPath, exitFile: g.exitFile, tty: false, stdin: false, waitStart: true, runtimeArgv: ['/nonexistent/berth-runtime'] });
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 127);
    assert.equal(text(out.stderr), 'berth-monitor: cannot run /nonexistent/berth-runtime: No such file or directory\n');
  } finally {
    g.cleanup();
  }
});

test('--volatile: the exit file and the log are written whole all the same', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect({ ...fakeRunOptions(f, 'echo kept; exit 4'), volatile: true });
    conn.start();
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 4);
    assert.deepEqual(JSON.parse(fs.readFileSync(f.exitFile, 'utf8')) as ExitStatus, status);
    const lines = [];
    for await (const line of readLog(f.logPath)) lines.push(`${line.stream}:${line.line.toString()}`);
    assert.deepEqual(lines, ['stdout:kept\n']);
  } finally {
    f.cleanup();
  }
});

test('--runtime-env: set for the runtime only, not in the monitor\'s own environment', async () => {
  const f = makeFixture();
  try {
    const conn = await startAndConnect({
      socketPath: f.socketPath,
      exitFile: f.exitFile,
      monitorPidFile: path.join(f.dir, 'monitor.pid'),
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['sh', '-c', 'echo "$GOMAXPROCS $BERTH_RUNTIME_ENV_TEST"'],
      runtimeEnv: ['GOMAXPROCS=1', 'BERTH_RUNTIME_ENV_TEST=a=b c'],
    });
    const monitorPid = Number(fs.readFileSync(path.join(f.dir, 'monitor.pid'), 'utf8'));
    const monitorEnv = fs.readFileSync(`/proc/${monitorPid}/environ`).toString().split('\0');
    assert.ok(!monitorEnv.some((e) => e.startsWith('BERTH_RUNTIME_ENV_TEST=')));
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    assert.equal(text(out.stdout), '1 a=b c\n');
  } finally {
    f.cleanup();
  }
});

test('--runtime-hide: the runtime reads the file empty, in a mount namespace of its own; the host\'s file stays as it was', { skip: process.getuid?.() === 0 ? undefined : 'needs root (unshare, mount)' }, async () => {
  const f = makeFixture();
  const hidden = path.join(f.dir, 'controllers');
  fs.writeFileSync(hidden, 'hugetlb\n');
  try {
    // The runtime's view: the file's bytes, and whether its mount namespace is the monitor's.
    const conn = await startAndConnect(directRunOptions(f, ['sh', '-c', `wc -c < ${hidden}; readlink /proc/self/ns/mnt`], { runtimeHide: hidden }));
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0, text(out.stderr));
    const [bytes, mountNamespace] = text(out.stdout).trim().split('\n');
    assert.equal(bytes?.trim(), '0');
    assert.notEqual(mountNamespace, fs.readlinkSync('/proc/self/ns/mnt'));
    assert.equal(fs.readFileSync(hidden, 'utf8'), 'hugetlb\n');
    assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(hidden), 'no mount of it in the host\'s table');
  } finally {
    f.cleanup();
  }
  const g = makeFixture();
  try {
    const conn = await startAndConnect(directRunOptions(g, ['true'], { runtimeHide: path.join(g.dir, 'no-such-file') }));
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 126);
    assert.equal(text(out.stderr), `berth-monitor: cannot hide ${path.join(g.dir, 'no-such-file')} from the runtime: No such file or directory\n`);
  } finally {
    g.cleanup();
  }
});

/** A stand-in for `crun create`: forks the command, which waits until the fifo is written, writes its pid and exits. */
const FAKE_CREATE = `#!/usr/bin/python3
import os, sys
pid = os.fork()
if pid == 0:
    with open(sys.argv[1]) as f:
        f.read()
    os.execvp(sys.argv[3], sys.argv[3:])
with open(sys.argv[2], "w") as f:
    f.write(str(pid))
os._exit(0)
`;

/** A monitor fixture with the fake create and its fifo. */
function fakeCreateFixture(): { f: ReturnType<typeof makeFixture>; create: string; fifo: string } {
  const f = makeFixture();
  const create = path.join(f.dir, 'fake-create');
  fs.writeFileSync(create, FAKE_CREATE, { mode: 0o755 });
  const fifo = path.join(f.dir, 'exec.fifo');
  execFileSync('mkfifo', [fifo]);
  return { f, create, fifo };
}

test('--then: the created process runs once the start command has; one that exits at once keeps its status (20 times); a failed start kills it', async () => {
  for (let round = 0; round < 20; round++) {
    const { f, create, fifo } = fakeCreateFixture();
    try {
      const conn = await startAndConnect({
        ...fakeRunOptions(f, ''),
        runtimeArgv: [create, fifo, f.pidFile, 'sh', '-c', 'echo ran; exit 7', '--then', 'sh', '-c', `echo go > ${fifo}`],
      });
      const out = collect(conn);
      conn.start();
      assert.ok((await conn.waitStarted()) > 0);
      assert.equal((await conn.waitExited()).exitCode, 7, `round ${round}`);
      assert.equal(text(out.stdout), 'ran\n');
    } finally {
      f.cleanup();
    }
  }
  const { f: g, create, fifo } = fakeCreateFixture();
  try {
    const conn = await startAndConnect({ ...fakeRunOptions(g, ''), runtimeArgv: [create, fifo, g.pidFile, 'sleep', '100', '--then', 'sh', '-c', 'exit 1'] });
    conn.start();
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 127);
    assert.match(status.error ?? '', /runtime exited with status 1/);
    const created = Number(fs.readFileSync(g.pidFile, 'utf8'));
    await waitFor(() => !fs.existsSync(`/proc/${created}`));
  } finally {
    g.cleanup();
  }
});
