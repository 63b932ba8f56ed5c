import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MonitorConnection } from '../../../src/runtime/monitor/client';
import { spawnMonitor, SpawnMonitorOptions } from '../../../src/runtime/monitor/spawn-monitor';

/**
 * A stand-in for `runc run -d`: forks the command with the runtime's stdio (so it inherits
 * the monitor's pipes, like a container), writes its pid and exits 0 without reaping it.
 * The command is then reparented to the monitor, exercising the subreaper path. (A shell
 * script would not do: the shell may reap a quick background job itself.)
 */
const FAKE_RUNTIME = `#!/usr/bin/python3
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(pid))
os._exit(0)
`;

export interface MonitorFixture {
  dir: string;
  socketPath: string;
  logPath: string;
  exitFile: string;
  pidFile: string;
  fakeRuntime: string;
  cleanup(): void;
}

export function makeFixture(): MonitorFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-'));
  const fakeRuntime = path.join(dir, 'fake-runc');
  fs.writeFileSync(fakeRuntime, FAKE_RUNTIME, { mode: 0o755 });
  return {
    dir,
    socketPath: path.join(dir, 'm.sock'),
    logPath: path.join(dir, 'log'),
    exitFile: path.join(dir, 'exit.json'),
    pidFile: path.join(dir, 'pid'),
    fakeRuntime,
    // A monitor still exiting may add or remove a file (its socket, exit.json) while the folder
    // is removed: ENOTEMPTY is retried, and a file that vanished under rmSync (which then, with
    // `force`, returns without its rmdir: CI left empty bm-* folders) means another pass.
    cleanup: () => {
      for (let pass = 0; pass < 10 && fs.existsSync(dir); pass++) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

/** Monitor options running `sh -c script` through the fake runtime. */
export function fakeRunOptions(f: MonitorFixture, script: string, extra: Partial<SpawnMonitorOptions> = {}): SpawnMonitorOptions {
  return {
    socketPath: f.socketPath,
    logPath: f.logPath,
    exitFile: f.exitFile,
    pidFile: f.pidFile,
    tty: false,
    stdin: false,
    waitStart: true,
    runtimeArgv: [f.fakeRuntime, f.pidFile, 'sh', '-c', script],
    ...extra,
  };
}

/** Monitor options running `runtimeArgv` itself as the process (direct mode: no pid file). */
export function directRunOptions(f: MonitorFixture, runtimeArgv: string[], extra: Partial<SpawnMonitorOptions> = {}): SpawnMonitorOptions {
  return { socketPath: f.socketPath, exitFile: f.exitFile, tty: false, stdin: false, waitStart: true, runtimeArgv, ...extra };
}

export interface Collected {
  stdout: Buffer[];
  stderr: Buffer[];
}

export function collect(conn: MonitorConnection): Collected {
  const out: Collected = { stdout: [], stderr: [] };
  conn.on('stdout', (b) => out.stdout.push(b));
  conn.on('stderr', (b) => out.stderr.push(b));
  return out;
}

export const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString();

export async function startAndConnect(opts: SpawnMonitorOptions): Promise<MonitorConnection> {
  await spawnMonitor(opts);
  return MonitorConnection.connect(opts.socketPath);
}

export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function parentPid(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
}

/** The session id of a process (/proc/<pid>/stat field 6, after the command name in parentheses). */
export function sessionOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

export function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
}
