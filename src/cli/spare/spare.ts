/**
 * A warm berth CLI process: Node started and the common command modules loaded ahead of
 * time, waiting on a root-only unix socket for one command from the native launcher
 * (native/cli/launcher.c, protocol in native/cli/protocol.h). It takes the launcher's
 * stdin/stdout/stderr, cwd, umask, environment and argv, starts its successor (which
 * inherits the listening socket), runs the command as `node main.js` would and reports
 * the exit status. One command per process: no state carries over between commands.
 *
 *   node dist/src/cli/spare/spare.js --listen SOCKET          (the first: binds, starts POOL - 1 more)
 *   node dist/src/cli/spare/spare.js --fd 3 --socket SOCKET   (the others and successors)
 * A spare exits when it was not used for IDLE_MS, or when its socket file is gone or is
 * another one (removed, or a newer pool took the path): nobody can reach it any more.
 * POOL spares wait at once, so two commands in a row both find one while the successors of
 * the first start.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { nativeBuildDir } from '../../native/build-dir';

interface SpareRequest {
  conn: number;
  /** The launcher's pid (SO_PEERCRED). */
  pid: number;
  stdin: number;
  stdout: number;
  stderr: number;
  cwd: string;
  umask: number;
  argv: string[];
  env: string[];
}

interface SpareAddon {
  listenUnix(socketPath: string): number;
  acceptRequest(listenFd: number, uid: number, idleMs: number): SpareRequest | null;
  dup2(from: number, to: number): void;
}

const MAIN = path.join(__dirname, '..', 'main.js');
/** A spare nobody used for this long exits; the next command starts another. */
const IDLE_MS = 15 * 60_000;
/** How often a waiting spare checks that its socket file is still its own. */
const CHECK_MS = 5_000;
/** A command runs here only where it would have run itself: same namespaces, same root. */
const POOL = 2;
const CONTEXT = ['ns/mnt', 'ns/net', 'ns/pid', 'ns/user', 'ns/ipc', 'ns/uts', 'ns/cgroup', 'root'];

/** What most commands load: read now, while nobody waits. */
const PRELOADED_COMMANDS = ['version', 'container ls', 'container run', 'container rm', 'container stop', 'container start', 'container logs', 'container exec', 'container inspect', 'image ls', 'image pull'];

function preload(): void {
  require(MAIN);
  const { COMMANDS } = require('../registry') as typeof import('../registry');
  for (const name of PRELOADED_COMMANDS) COMMANDS[name]?.();
  require('../daemon/connect');
  require('node:http');
  // runMain's and process.stdout's (a terminal's) modules
  require('./start');
  require('node:tty');
}

interface Listener {
  fd: number;
  socketPath: string;
  /** The socket file's identity when it was bound ("dev:ino"). */
  identity: string;
}

function identityOf(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Another spare on the same listening socket (its fd 3), detached from this one. */
function startSibling(listener: Listener): void {
  spawn(process.execPath, [...process.execArgv, __filename, '--fd', '3', '--socket', listener.socketPath, '--identity', listener.identity], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', listener.fd],
  }).unref();
}

function listen(addon: SpareAddon, argv: string[]): Listener {
  const at = (flag: string) => {
    const i = argv.indexOf(flag);
    return i === -1 ? undefined : argv[i + 1];
  };
  const fd = at('--fd');
  if (fd !== undefined) return { fd: Number(fd), socketPath: at('--socket') ?? '', identity: at('--identity') ?? '' };
  const socketPath = at('--listen');
  if (!socketPath) throw new Error('usage: spare.js --listen SOCKET | --fd N --socket SOCKET --identity DEV:INO');
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  const listener = { fd: addon.listenUnix(socketPath), socketPath, identity: identityOf(socketPath) ?? '' };
  for (let i = 1; i < POOL; i++) startSibling(listener);
  return listener;
}

/** Waits for a request while the socket is reachable and IDLE_MS has not passed; null then. */
function waitForRequest(addon: SpareAddon, listener: Listener): SpareRequest | null {
  const uid = process.getuid!();
  const deadline = Date.now() + IDLE_MS;
  while (Date.now() < deadline) {
    const request = addon.acceptRequest(listener.fd, uid, CHECK_MS);
    if (request) return request;
    if (identityOf(listener.socketPath) !== listener.identity) return null;
  }
  return null;
}

function mtime(file: string): number {
  return statSync(file).mtimeMs;
}

function contextOf(pid: number | 'self'): string {
  return CONTEXT.map((entry) => {
    const st = statSync(`/proc/${pid}/${entry}`);
    return `${st.dev}:${st.ino}`;
  }).join(' ');
}

/** Runs plain Node from the launcher: `node main.js` from a new tree, or in another namespace. */
function declines(request: SpareRequest, loadedAt: number, context: string): boolean {
  try {
    return mtime(MAIN) !== loadedAt || contextOf(request.pid) !== context;
  } catch {
    return true;
  }
}

/** Points fds 0–2 at /dev/null: Node's stdio handles stay valid, the caller's files are let go. */
function releaseStdio(addon: SpareAddon): void {
  try {
    const devNull = openSync('/dev/null', 'r+');
    for (const fd of [0, 1, 2]) addon.dup2(devNull, fd);
    closeSync(devNull);
  } catch {
    // they close when the process ends
  }
}

/** Bounds the warm-up: a spare that could not warm up serves all the same. */
const WARM_UP_MS = 10_000;

/** Runs the common commands once against a stand-in daemon (warm-up.ts), in the spares' folder. */
async function warmUp(listener: Listener): Promise<void> {
  const { warmUp: run } = require('./warm-up') as typeof import('./warm-up');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    run(path.join(path.dirname(listener.socketPath), `warm-up-${process.pid}.sock`)),
    new Promise((resolve) => (timer = setTimeout(resolve, WARM_UP_MS))),
  ]).finally(() => clearTimeout(timer));
}

async function serveOne(): Promise<void> {
  const addon = require(path.join(nativeBuildDir(), 'berth_cli_spare.node')) as SpareAddon;
  const listener = listen(addon, process.argv.slice(2));
  preload();
  await warmUp(listener);
  // The warm-up's garbage goes now, while nobody waits: otherwise the command pays for
  // collecting it (a spare's CPU profile showed ~1/8 of a run --rm in the collector).
  // Spares run with --expose-gc (start.ts; successors inherit the flags).
  (globalThis as { gc?: () => void }).gc?.();
  const loadedAt = mtime(MAIN);
  const context = contextOf('self');
  const request = waitForRequest(addon, listener);
  if (request === null) process.exit(0);
  if (declines(request, loadedAt, context)) {
    writeSync(request.conn, 'F');
    startSibling(listener);
    process.exit(0);
  }
  const pid = Buffer.alloc(5);
  pid.write('P');
  pid.writeUInt32LE(process.pid, 1);
  writeSync(request.conn, pid);
  for (const [from, to] of [[request.stdin, 0], [request.stdout, 1], [request.stderr, 2]] as const) {
    addon.dup2(from, to);
    closeSync(from);
  }
  process.chdir(request.cwd);
  process.umask(request.umask);
  for (const key of Object.keys(process.env)) delete process.env[key];
  for (const entry of request.env) {
    const eq = entry.indexOf('=');
    if (eq > 0) process.env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  process.argv = [process.execPath, MAIN, ...request.argv];
  // In ps, a serving spare is the berth command it runs (also: no longer one that waits).
  process.title = ['berth', ...request.argv].join(' ');
  // This one's successor starts once the command is done, so that its start-up does not
  // take a CPU from the command and the daemon.
  let replaced = false;
  const replace = () => {
    if (!replaced) startSibling(listener);
    replaced = true;
  };
  process.on('exit', (code) => {
    // The caller's stdin/stdout/stderr close before the status goes: a reader of the
    // command's output ($(berth ps), a pipe) sees its end now, not once this process has
    // started its successor and torn Node down (≈ 30 ms here, more under load).
    releaseStdio(addon);
    // the last thing this process does: the launcher exits with it
    const status = Buffer.alloc(5);
    status.write('X');
    status.writeInt32LE(code, 1);
    writeSync(request.conn, status);
    replace();
  });
  // A signal the launcher forwards ends the command as it would plain Node, unless the
  // command listens for it itself; either way the pool keeps its size.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      replace();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
  (require(MAIN) as typeof import('../main')).runMain();
}

serveOne().catch((err: unknown) => {
  process.stderr.write(`berth spare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
