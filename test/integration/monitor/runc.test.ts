import { needsRoot } from '../../helpers/root';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MonitorConnection } from '../../../src/runtime/monitor/client';
import { spawnMonitor } from '../../../src/runtime/monitor/spawn-monitor';
import { readLog } from '../../../src/runtime/monitor/log-reader';
import { collect, parentPid, rssKb, text, waitFor } from './helpers';

const BUSYBOX = '/bin/busybox';
const skip =
  needsRoot('needs root') ||
  (!fs.existsSync(BUSYBOX)
      ? 'needs busybox-static'
      : (() => {
          try {
            execFileSync('runc', ['--version']);
            return false;
          } catch {
            return 'needs runc';
          }
        })());

interface Bundle {
  dir: string;
  bundle: string;
  runcRoot: string;
  id: string;
  cleanup(): void;
}

/** A one-binary busybox container bundle made with `runc spec`. */
function makeBundle(args: string[], terminal: boolean): Bundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmr-'));
  const bundle = path.join(dir, 'b');
  const rootfs = path.join(bundle, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'dev', 'sys', 'tmp']) fs.mkdirSync(path.join(rootfs, d));
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'echo', 'sleep', 'cat', 'stty', 'tty']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const configPath = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8')) as {
    process: { args: string[]; terminal: boolean };
    linux: { namespaces: Array<{ type: string }> };
  };
  config.process.args = args;
  config.process.terminal = terminal;
  config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network');
  fs.writeFileSync(configPath, JSON.stringify(config));
  const runcRoot = path.join(dir, 'runc');
  const id = `berth-monitor-test-${process.pid}-${path.basename(dir)}`;
  return {
    dir,
    bundle,
    runcRoot,
    id,
    cleanup: () => {
      try {
        execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('real runc: detached container reparented to the monitor, output, exit code, small RSS', { skip, timeout: 60_000 }, async () => {
  const b = makeBundle(['sh', '-c', 'echo hello from busybox; echo oops >&2; sleep 1; exit 7'], false);
  try {
    const socketPath = path.join(b.dir, 'm.sock');
    const pidFile = path.join(b.dir, 'pid');
    const logPath = path.join(b.dir, 'log');
    const exitFile = path.join(b.dir, 'exit.json');
    await spawnMonitor({
      socketPath,
      logPath,
      exitFile,
      pidFile,
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['runc', '--root', b.runcRoot, 'run', '-d', '--pid-file', pidFile, '--bundle', b.bundle, b.id],
    });
    const conn = await MonitorConnection.connect(socketPath);
    const out = collect(conn);
    conn.start();
    const pid = await conn.waitStarted();
    const monitorPid = parentPid(pid);
    const rss = rssKb(monitorPid);
    console.log(`berth-monitor VmRSS with a runc container running: ${rss} kB`);
    assert.ok(rss < 2560);
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 7);
    assert.equal(text(out.stdout), 'hello from busybox\n');
    assert.equal(text(out.stderr), 'oops\n');
    const lines: string[] = [];
    for await (const l of readLog(logPath)) lines.push(l.line.toString());
    assert.deepEqual(lines.sort(), ['hello from busybox\n', 'oops\n']);
  } finally {
    b.cleanup();
  }
});

test('real runc: tty via console socket, resize, stdin', { skip, timeout: 60_000 }, async () => {
  const b = makeBundle(['sh', '-c', 'read line; echo "got $line"; stty size; tty'], true);
  try {
    const socketPath = path.join(b.dir, 'm.sock');
    const consoleSocketPath = path.join(b.dir, 'c.sock');
    const pidFile = path.join(b.dir, 'pid');
    await spawnMonitor({
      socketPath,
      pidFile,
      tty: true,
      consoleSocketPath,
      stdin: true,
      waitStart: true,
      runtimeArgv: ['runc', '--root', b.runcRoot, 'run', '-d', '--console-socket', consoleSocketPath, '--pid-file', pidFile, '--bundle', b.bundle, b.id],
    });
    const conn = await MonitorConnection.connect(socketPath);
    const out = collect(conn);
    conn.resize(33, 101);
    conn.start();
    await conn.waitStarted();
    conn.writeStdin(Buffer.from('ping\n'));
    const status = await conn.waitExited();
    assert.equal(status.exitCode, 0);
    const output = text(out.stdout);
    assert.equal(out.stderr.length, 0);
    assert.match(output, /got ping\r\n/);
    assert.match(output, /33 101\r\n/);
    assert.match(output, /\/dev\/pts\/\d+\r\n/);
  } finally {
    b.cleanup();
  }
});

test('real runc: a failing runc reports its error', { skip, timeout: 60_000 }, async () => {
  const b = makeBundle(['/bin/no-such-binary'], false);
  try {
    const socketPath = path.join(b.dir, 'm.sock');
    const pidFile = path.join(b.dir, 'pid');
    const exitFile = path.join(b.dir, 'exit.json');
    await spawnMonitor({
      socketPath,
      exitFile,
      pidFile,
      tty: false,
      stdin: false,
      waitStart: true,
      runtimeArgv: ['runc', '--root', b.runcRoot, 'run', '-d', '--pid-file', pidFile, '--bundle', b.bundle, b.id],
    });
    const conn = await MonitorConnection.connect(socketPath);
    conn.start();
    await assert.rejects(conn.waitStarted(), /runtime exited with status 1.*no-such-binary/s);
    assert.equal((await conn.waitExited()).exitCode, 127);
    await waitFor(() => fs.existsSync(exitFile));
  } finally {
    b.cleanup();
  }
});
