import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runtimeFlavor, type RuntimeFlavor } from './runtime-flavor';
import { ExecError, ExecResult, run } from '../../util/exec';
import { Logger, silentLogger } from '../../util/logger';
import { isENOENT, notFound } from '../../errors';
import type { OciResources } from '../spec/oci-types';

/** `runc state` output. */
export interface RuncState {
  ociVersion: string;
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs: string;
  created: string;
  owner?: string;
  annotations?: Record<string, string>;
}

export interface RuncOptions {
  binary?: string;
  /** runc --root: the state directory, one per engine. */
  root: string;
  logger?: Logger;
  /** The longest any runc call may take before it is killed (default DEFAULT_RUNC_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** runc's and crun's words for an id they keep no state for. */
const UNKNOWN_CONTAINER = /does not exist|error opening file `[^`]*\/status`: No such file or directory|cannot open directory '[^']*': No such file or directory/;
/** runc's and crun's words for a signal to a container whose process has exited. */
const NOT_RUNNING = /container not running|kill container: No such process|open pidfd: No such process/;

/** Every runc call ends within this unless told otherwise: a hung runc must not hold a container's lock forever. */
export const DEFAULT_RUNC_TIMEOUT_MS = 30_000;

/** Per call: an AbortSignal, and a timeout other than the wrapper's default. */
export interface RuncCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface RunArgvOptions {
  bundle: string;
  pidFile: string;
  /** Set for a TTY container: runc sends the pty master over this socket. */
  consoleSocket?: string;
  detach: true;
  /** runc --log, in JSON, read back by readRuntimeError. */
  logFile: string;
}

export interface ExecArgvOptions {
  processJsonPath: string;
  pidFile: string;
  consoleSocket?: string;
  detach: true;
  logFile: string;
}

/**
 * A thin wrapper over the runc CLI (crun takes the same commands and flags), in go-runc's shape: one method per subcommand, an
 * options object that becomes argv, and errors that carry runc's stderr. No engine logic.
 * `runArgv` / `execArgv` only build argv: the monitor process runs them, so it becomes
 * the container's parent (subreaper) and holds its stdio.
 */
export class Runc {
  readonly binary: string;
  /** runc or crun, by the binary's name: what their differences are keyed on. */
  readonly flavor: RuntimeFlavor;
  readonly root: string;
  private readonly logger: Logger;
  private readonly timeoutMs: number;

  constructor(opts: RuncOptions) {
    this.binary = opts.binary ?? 'runc';
    this.flavor = runtimeFlavor(this.binary);
    this.root = opts.root;
    this.logger = opts.logger ?? silentLogger;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RUNC_TIMEOUT_MS;
  }

  private globalArgs(logFile?: string): string[] {
    const args = ['--root', this.root];
    if (logFile) args.push('--log', logFile, '--log-format', 'json');
    return args;
  }

  private async exec(args: string[], call: RuncCallOptions = {}, input?: string): Promise<ExecResult> {
    const argv = [...this.globalArgs(), ...args];
    this.logger.debug('runc', { argv });
    try {
      return await run(this.binary, argv, { input, signal: call.signal, timeoutMs: call.timeoutMs ?? this.timeoutMs });
    } catch (err: unknown) {
      if (err instanceof ExecError) {
        this.logger.debug('runc failed', { argv, stderr: err.stderr });
        // Unknown ids: runc says "container does not exist"; crun cannot open the id's state.
        if (UNKNOWN_CONTAINER.test(err.stderr)) throw notFound(`${path.basename(this.binary)}: container does not exist: ${args[args.length - 1]}`, err);
      }
      throw err;
    }
  }

  /** Full argv (binary first) for `runc run --detach`, for the monitor to exec. */
  runArgv(id: string, o: RunArgvOptions): string[] {
    const args = [this.binary, ...this.globalArgs(o.logFile), 'run', '--bundle', o.bundle, '--pid-file', o.pidFile];
    if (o.consoleSocket) args.push('--console-socket', o.consoleSocket);
    if (o.detach) args.push('--detach');
    args.push(id);
    return args;
  }

  /**
   * Full argv for `crun create` then, after `--then`, `crun start`, for the monitor to run one
   * after the other (berth-monitor --then): what runs crun's containers. Its `run -d` traces
   * the process until it has exec'd, and the status of one that exits meanwhile is lost.
   */
  createThenStartArgv(id: string, o: Omit<RunArgvOptions, 'detach'>): string[] {
    const args = [this.binary, ...this.globalArgs(o.logFile), 'create', '--bundle', o.bundle, '--pid-file', o.pidFile];
    if (o.consoleSocket) args.push('--console-socket', o.consoleSocket);
    args.push(id, '--then', this.binary, ...this.globalArgs(o.logFile), 'start', id);
    return args;
  }

  /** Full argv for `runc exec --detach --process <json>`. */
  execArgv(id: string, o: ExecArgvOptions): string[] {
    const args = [this.binary, ...this.globalArgs(o.logFile), 'exec', '--process', o.processJsonPath, '--pid-file', o.pidFile];
    if (o.consoleSocket) args.push('--console-socket', o.consoleSocket);
    if (o.detach) args.push('--detach');
    args.push(id);
    return args;
  }

  async state(id: string, call?: RuncCallOptions): Promise<RuncState> {
    const { stdout } = await this.exec(['state', id], call);
    return JSON.parse(stdout.toString()) as RuncState;
  }

  async list(call?: RuncCallOptions): Promise<RuncState[]> {
    const { stdout } = await this.exec(['list', '--format', 'json'], call);
    const parsed = JSON.parse(stdout.toString() || 'null') as RuncState[] | null;
    return parsed ?? [];
  }

  async kill(id: string, signal: string | number, opts: { all?: boolean } & RuncCallOptions = {}): Promise<void> {
    const args = ['kill'];
    if (opts.all) args.push('--all');
    args.push(id, String(signal));
    await this.exec(args, opts).catch((err: unknown) => {
      // The process exited and runc knows (its monitor may not have reported it yet).
      if (err instanceof ExecError && NOT_RUNNING.test(err.stderr)) throw notFound(`${path.basename(this.binary)}: container is not running: ${id}`, err);
      throw err;
    });
  }

  async pause(id: string, call?: RuncCallOptions): Promise<void> {
    await this.exec(['pause', id], call);
  }

  async resume(id: string, call?: RuncCallOptions): Promise<void> {
    await this.exec(['resume', id], call);
  }

  /** Host pids of every process in the container. */
  async ps(id: string, call?: RuncCallOptions): Promise<number[]> {
    const { stdout } = await this.exec(['ps', '--format', 'json', id], call);
    return (JSON.parse(stdout.toString() || 'null') as number[] | null) ?? [];
  }

  /**
   * Whether runc keeps state for `id` (its state dir under --root exists). runc itself
   * answers "does not exist" without one, so callers may skip spawning it.
   */
  async hasState(id: string): Promise<boolean> {
    if (id.length === 0 || id.includes('/') || id === '.' || id === '..') return true; // let runc judge odd ids
    try {
      await fs.access(path.join(this.root, id));
      return true;
    } catch (err: unknown) {
      if (isENOENT(err)) return false;
      throw err;
    }
  }

  async delete(id: string, opts: { force?: boolean } & RuncCallOptions = {}): Promise<void> {
    const args = ['delete'];
    if (opts.force) args.push('--force');
    args.push(id);
    await this.exec(args, opts);
  }

  /**
   * `runc update --resources -`: the OCI LinuxResources object on stdin. crun opens
   * /dev/stdin by name, which a socket (Node's stdin for a child) cannot be: it gets a file
   * in its root dir (root-only, as the rest of its state).
   */
  async update(id: string, resources: OciResources, call?: RuncCallOptions): Promise<void> {
    if (this.flavor !== 'crun') {
      await this.exec(['update', '--resources', '-', id], call, JSON.stringify(resources));
      return;
    }
    const file = path.join(this.root, `.update-${process.pid}-${randomBytes(6).toString('hex')}.json`);
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await fs.writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    try {
      await this.exec(['update', '--resources', file, id], call);
    } finally {
      await fs.rm(file, { force: true });
    }
  }
}

/**
 * The last error-level message in a runc --log-format json file, e.g.
 * `runc run failed: unable to start container process: exec: "x": executable file not found in $PATH`.
 */
export async function readRuntimeError(logFile: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(logFile, 'utf8');
  } catch (err: unknown) {
    if (isENOENT(err)) return undefined;
    throw err;
  }
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) last = entry.msg;
    } catch {
      // runc may print plain text before it sets up the JSON logger; keep it as a fallback.
      if (!last) last = line.trim();
    }
  }
  return last;
}

