import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { internal } from '../../errors';
import { hasSpawnReady, native, nativeBuildDir } from '../../native';
import { MONITOR_PROTOCOL_VERSION } from './protocol';

export interface SpawnMonitorOptions {
  /** Where the monitor serves clients (unix socket, mode 0600). Keep it under 108 bytes. */
  socketPath: string;
  /** Container log (records as in protocol.ts); appended to. */
  logPath?: string;
  /** Rotate the log once it holds this many bytes (Docker's max-size); unset: no limit. */
  logMaxSize?: number;
  /** With logMaxSize: how many files to keep, the current one included (Docker's max-file, default 1). */
  logMaxFiles?: number;
  /** Where the monitor writes its own pid (atomically) while it lives. */
  monitorPidFile?: string;
  /** The process's memory cgroup dir, whose oom_kill counter makes ExitStatus.oomKilled. */
  oomCgroup?: string;
  /** Written atomically with the ExitStatus JSON when the process exits. */
  exitFile?: string;
  /** The runtime's --pid-file. Without it, runtimeArgv is the process itself. */
  pidFile?: string;
  tty: boolean;
  /** Required with tty: the monitor listens here for the pty master (runc --console-socket). */
  consoleSocketPath?: string;
  /** Give the process a stdin pipe fed by STDIN frames (else /dev/null). */
  stdin: boolean;
  /** Run the runtime only after the first START frame, so attach streams miss nothing. */
  waitStart: boolean;
  /** Nothing of the task outlives a machine crash (a --rm container): the exit file and log are not fsynced. */
  volatile?: boolean;
  runtimeArgv: string[];
  /** An fd of the runtime's executable (the sealed runc copy), exec'd in place of runtimeArgv[0]; the monitor gets it as fd 4. */
  runtimeFd?: number;
  /** NAME=VALUE pairs set in the runtime's environment only (at most 8). */
  runtimeEnv?: string[];
  /** A file the runtime sees empty, in a mount namespace of its own (crun on a hybrid cgroup host: runtime-flavor.ts). */
  runtimeHide?: string;
  cwd?: string;
}

/** Where the monitor finds the runtime's executable when it is handed one. */
const RUNTIME_FD = 4;

const READY_TIMEOUT_MS = 10_000;

/** The berth-monitor executable built by node-gyp beside the addon. */
export function monitorBinaryPath(): string {
  return path.join(nativeBuildDir(), 'berth-monitor');
}

export function monitorArgv(opts: SpawnMonitorOptions, syncFd: number): string[] {
  const args = ['--socket', opts.socketPath, '--sync-fd', String(syncFd)];
  if (opts.logPath !== undefined) args.push('--log', opts.logPath);
  if (opts.logPath !== undefined && opts.logMaxSize !== undefined) {
    args.push('--log-max-size', String(opts.logMaxSize), '--log-max-files', String(opts.logMaxFiles ?? 1));
  }
  if (opts.monitorPidFile !== undefined) args.push('--monitor-pid-file', opts.monitorPidFile);
  if (opts.oomCgroup !== undefined) args.push('--oom-cgroup', opts.oomCgroup);
  if (opts.exitFile !== undefined) args.push('--exit-file', opts.exitFile);
  if (opts.pidFile !== undefined) args.push('--pid-file', opts.pidFile);
  if (opts.tty) {
    if (opts.consoleSocketPath === undefined) throw internal('spawnMonitor: tty needs consoleSocketPath');
    args.push('--tty', '--console-socket', opts.consoleSocketPath);
  }
  if (opts.stdin) args.push('--stdin');
  if (opts.waitStart) args.push('--wait-start');
  if (opts.volatile) args.push('--volatile');
  if (opts.runtimeFd !== undefined) args.push('--runtime-fd', String(RUNTIME_FD));
  for (const pair of opts.runtimeEnv ?? []) args.push('--runtime-env', pair);
  if (opts.runtimeHide !== undefined) args.push('--runtime-hide', opts.runtimeHide);
  args.push('--', ...opts.runtimeArgv);
  return args;
}

async function stopStaleMonitor(pidFile: string | undefined): Promise<void> {
  if (pidFile === undefined) return;
  const pid = await readMonitorPidFile(pidFile);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The pid a monitor wrote to its --monitor-pid-file, or undefined when there is none. */
export async function readMonitorPidFile(pidFile: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(pidFile, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

function collect(stream: Readable | null | undefined, sink: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    if (!stream) return resolve();
    stream.on('data', (chunk: Buffer) => sink.push(chunk));
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
  });
}

/** How a monitor's start went: its sync pipe's words and stderr once both closed, a timeout, or a spawn error. */
type Launch = { outcome: 'done' | 'timeout'; reply: string; stderr: string } | { outcome: Error };

/**
 * posix_spawn on a pool thread (the addon's spawnReady): child_process.spawn forks the daemon
 * on the JS thread and blocks it until the child has exec'd (15-40 ms per start under load).
 */
async function launchNative(argv: string[], cwd: string | undefined, runtimeFd: number | undefined): Promise<Launch> {
  try {
    const r = await native.spawnReady!(argv, cwd ?? null, READY_TIMEOUT_MS, runtimeFd);
    return { outcome: r.timedOut ? 'timeout' : 'done', reply: r.sync.trim(), stderr: r.stderr.trim() };
  } catch (err: unknown) {
    return { outcome: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** child_process.spawn: for an addon built before spawnReady. */
async function launchChildProcess(argv: string[], cwd: string | undefined, runtimeFd: number | undefined): Promise<Launch> {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...(runtimeFd === undefined ? [] : [runtimeFd])],
  });
  const sync: Buffer[] = [];
  const stderr: Buffer[] = [];
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
  const done = Promise.all([collect(child.stdio[3] as Readable, sync), collect(child.stderr, stderr)]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
  });
  const outcome = await Promise.race([done.then(() => 'done' as const), spawnError, timeout]);
  clearTimeout(timer);
  if (outcome instanceof Error) return { outcome };
  if (outcome === 'timeout') child.kill('SIGKILL');
  return { outcome, reply: Buffer.concat(sync).toString().trim(), stderr: Buffer.concat(stderr).toString().trim() };
}

/**
 * Starts a detached berth-monitor (it double-forks, so it is not our child and survives
 * the daemon) and resolves once its socket is listening. With waitStart the runtime has
 * not run yet: connect, then send START.
 */
export async function spawnMonitor(opts: SpawnMonitorOptions): Promise<void> {
  const syncFd = 3;
  const argv = [monitorBinaryPath(), ...monitorArgv(opts, syncFd)];
  const launch = hasSpawnReady() ? await launchNative(argv, opts.cwd, opts.runtimeFd) : await launchChildProcess(argv, opts.cwd, opts.runtimeFd);
  if (launch.outcome === 'done' && launch.reply === `ready ${MONITOR_PROTOCOL_VERSION}`) return;
  let reason: string;
  if (launch.outcome === 'done' && launch.reply.startsWith('ready')) {
    // Its socket listens already; it is not our child, so find it by its pid file to stop it.
    await stopStaleMonitor(opts.monitorPidFile);
    const version = launch.reply.slice('ready'.length).trim() || '0';
    throw internal(
      `berth-monitor at ${argv[0]} speaks protocol version ${version}, this daemon version ${MONITOR_PROTOCOL_VERSION}: rebuild it (node native/build-addon.js)`,
    );
  }
  if ('reply' in launch) {
    reason = launch.outcome === 'timeout' ? `no answer within ${READY_TIMEOUT_MS} ms` : launch.reply.replace(/^error: /, '') || launch.stderr || 'exited without a word';
  } else {
    reason = launch.outcome.message;
  }
  if (/unknown option/.test(reason)) reason += ` (a berth-monitor older than protocol version ${MONITOR_PROTOCOL_VERSION}? rebuild it: node native/build-addon.js)`;
  throw internal(`berth-monitor failed to start (${argv.join(' ')}): ${reason}`);
}
