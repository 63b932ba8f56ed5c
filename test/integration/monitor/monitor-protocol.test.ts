import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { MonitorConnection } from '../../../src/runtime/monitor/client';
import { readMonitorPidFile, spawnMonitor } from '../../../src/runtime/monitor/spawn-monitor';
import { encodeFrame, FrameType, LOG_RECORD_HEADER_SIZE, LOG_STREAM_INDEX, MONITOR_PROTOCOL_VERSION } from '../../../src/runtime/monitor/protocol';
import { findMonitors } from '../../../src/runtime/driver/monitor-processes';
import { collect, fakeRunOptions, makeFixture, parentPid, startAndConnect, text, waitFor } from './helpers';

test('every connection starts with HELLO: version, monitor pid, and the process pid once known', async () => {
  const f = makeFixture();
  const monitorPidFile = path.join(f.dir, 'monitor.pid');
  try {
    const conn = await startAndConnect(fakeRunOptions(f, 'sleep 0.3', { monitorPidFile }));
    assert.equal(conn.hello.version, MONITOR_PROTOCOL_VERSION);
    assert.equal(conn.hello.pid, undefined);
    // The pid file exists once spawnMonitor returns and names the monitor (the process's parent).
    const monitorPid = await readMonitorPidFile(monitorPidFile);
    assert.equal(conn.hello.monitorPid, monitorPid);
    conn.start();
    const pid = await conn.waitStarted();
    assert.equal(parentPid(pid), monitorPid);
    const late = await MonitorConnection.connect(f.socketPath);
    assert.deepEqual(late.hello, { version: MONITOR_PROTOCOL_VERSION, monitorPid, pid });
    // A late client still gets STARTED after HELLO.
    assert.equal(await late.waitStarted(), pid);
    await conn.waitExited();
    // The pid file goes with the monitor.
    await waitFor(() => !fs.existsSync(monitorPidFile));
    late.close();
  } finally {
    f.cleanup();
  }
});

test('findMonitors finds a monitor by its pid file, and ignores a stale one', async () => {
  const f = makeFixture();
  const taskDir = path.join(f.dir, 'task');
  fs.mkdirSync(path.join(taskDir, 'exec1'), { recursive: true });
  const socketPath = path.join(taskDir, 'attach.sock');
  try {
    await spawnMonitor(fakeRunOptions(f, 'true', { socketPath, monitorPidFile: path.join(taskDir, 'monitor.pid') }));
    const pid = await readMonitorPidFile(path.join(taskDir, 'monitor.pid'));
    // A pid file left behind by a killed monitor, naming a live process that is no monitor.
    fs.writeFileSync(path.join(taskDir, 'exec1', 'monitor.pid'), `${process.pid}\n`);
    assert.deepEqual(await findMonitors(taskDir), [{ pid, socketPath }]);
    process.kill(pid!, 'SIGKILL');
    await waitFor(() => {
      try {
        process.kill(pid!, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(await findMonitors(taskDir), []);
  } finally {
    f.cleanup();
  }
});

/** A fake monitor that greets with `hello` (a frame), to check the client's refusal. */
async function fakeMonitor(socketPath: string, greeting: Buffer | undefined): Promise<net.Server> {
  const server = net.createServer((socket) => {
    if (greeting) socket.write(greeting);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

test('the client refuses a monitor that speaks another protocol version, naming both', async () => {
  const f = makeFixture();
  const socketPath = path.join(f.dir, 'fake.sock');
  const server = await fakeMonitor(socketPath, encodeFrame(FrameType.HELLO, JSON.stringify({ version: 99, monitorPid: 4242 })));
  try {
    await assert.rejects(MonitorConnection.connect(socketPath), (err: Error) => {
      assert.match(err.message, /pid 4242\) speaks protocol version 99; this daemon speaks version 1/);
      return true;
    });
  } finally {
    server.close();
    f.cleanup();
  }
});

test('the client refuses a monitor whose first frame is not HELLO', async () => {
  const f = makeFixture();
  const socketPath = path.join(f.dir, 'fake.sock');
  const server = await fakeMonitor(socketPath, encodeFrame(FrameType.STARTED, '123'));
  try {
    await assert.rejects(MonitorConnection.connect(socketPath), /did not start with a hello frame/);
  } finally {
    server.close();
    f.cleanup();
  }
});

/** The log files of a rotated log, current first: LOG, LOG.1, LOG.2, ... */
function logFiles(logPath: string): string[] {
  const dir = path.dirname(logPath);
  const base = path.basename(logPath);
  return fs
    .readdirSync(dir)
    .filter((n) => n === base || new RegExp(`^${base}\\.\\d+$`).test(n))
    .sort((a, b) => Number(a.slice(base.length + 1) || 0) - Number(b.slice(base.length + 1) || 0));
}

function recordsOf(file: string): string[] {
  const raw = fs.readFileSync(file);
  const out: string[] = [];
  for (let o = 0; o < raw.length; ) {
    const length = raw.readUInt32BE(o + 9);
    // Index records (stream 3) carry no output.
    if (raw[o] !== LOG_STREAM_INDEX) out.push(raw.subarray(o + LOG_RECORD_HEADER_SIZE, o + LOG_RECORD_HEADER_SIZE + length).toString());
    o += LOG_RECORD_HEADER_SIZE + length;
    assert.ok(o <= raw.length, `${file} ends inside a record`);
  }
  return out;
}

test('the log rotates at max-size, keeping max-file files of whole records', async () => {
  const f = makeFixture();
  try {
    // 40 lines of 100 bytes, one record each (a pause between lines keeps them apart).
    const script = 'for i in $(seq 1 40); do printf "%099d\\n" $i; sleep 0.005; done';
    const conn = await startAndConnect(fakeRunOptions(f, script, { logMaxSize: 1000, logMaxFiles: 3 }));
    const out = collect(conn);
    conn.start();
    assert.equal((await conn.waitExited()).exitCode, 0);
    assert.equal(text(out.stdout).length, 4000);
    const files = logFiles(f.logPath);
    assert.deepEqual(files, ['log', 'log.1', 'log.2']);
    const all = [...files].reverse().flatMap((name) => recordsOf(path.join(f.dir, name)).join('').split('\n').filter(Boolean));
    // The newest lines are kept, in order and whole; the oldest went with the removed files.
    assert.ok(all.length >= 20 && all.length < 40, `${all.length} lines kept`);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => String(40 - all.length + i + 1).padStart(99, '0')));
    for (const name of files.slice(1)) {
      const size = fs.statSync(path.join(f.dir, name)).size;
      // Rotated once it reached 1000 bytes: at most one record past it.
      assert.ok(size >= 1000 && size < 1000 + 2 * (LOG_RECORD_HEADER_SIZE + 100), `${name}: ${size} bytes`);
    }
  } finally {
    f.cleanup();
  }
});

test('max-file 1 truncates the log in place', async () => {
  const f = makeFixture();
  try {
    const script = 'for i in $(seq 1 30); do printf "%099d\\n" $i; sleep 0.005; done';
    const conn = await startAndConnect(fakeRunOptions(f, script, { logMaxSize: 1000, logMaxFiles: 1 }));
    conn.start();
    await conn.waitExited();
    assert.deepEqual(logFiles(f.logPath), ['log']);
    const lines = recordsOf(f.logPath).join('').split('\n').filter(Boolean);
    assert.ok(lines.length > 0 && lines.length <= 11, `${lines.length} lines`);
    assert.equal(lines[lines.length - 1], '30'.padStart(99, '0'));
  } finally {
    f.cleanup();
  }
});

test('a client flooding stdin that nobody reads does not hold up other clients', { timeout: 30_000 }, async () => {
  const f = makeFixture();
  try {
    // Before START the process has no stdin yet, so the monitor's stdin buffer fills up.
    const flooder = await startAndConnect(fakeRunOptions(f, 'exec wc -c', { stdin: true }));
    const out = collect(flooder);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const total = 48 * chunk.length; // 3 MiB: three times the monitor's stdin buffer
    for (let i = 0; i < 48; i++) flooder.writeStdin(chunk);
    flooder.closeStdin();
    await new Promise((r) => setTimeout(r, 300));
    // Another client is served meanwhile: its START runs the process, which drains the input.
    const other = await MonitorConnection.connect(f.socketPath);
    other.start();
    assert.ok((await other.waitStarted()) > 0);
    const status = await flooder.waitExited();
    assert.equal(status.exitCode, 0);
    assert.equal(text(out.stdout).trim(), String(total));
    other.close();
  } finally {
    f.cleanup();
  }
});
