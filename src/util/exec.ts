import { spawn, SpawnOptions } from 'node:child_process';
import { EngineError, internal, unavailable } from '../errors';

/**
 * The one place external programs (runc, iptables, ...) are run from. On failure the
 * error names the argv and carries the program's stderr, so a user sees what was run
 * and why it failed.
 */
export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number;
}

export class ExecError extends EngineError {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super('Internal', `${argv.join(' ')}: exited with ${code ?? 'signal'}: ${stderr.trim() || '(no stderr)'}`);
  }
}

export interface RunOptions extends Pick<SpawnOptions, 'cwd' | 'env'> {
  input?: string | Buffer;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** SIGKILL the program and reject (Unavailable) when it runs longer than this. */
  timeoutMs?: number;
  /** SIGKILL the program and reject with the signal's reason when aborted. */
  signal?: AbortSignal;
}

export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortError(file, args, options.signal));
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // A hung program is killed, and the caller hears of it at once: its pipes may be held
    // open by the program's own children, so 'close' could come much later or never.
    let stopped: Error | undefined;
    const stop = (reason: Error) => {
      if (stopped) return;
      stopped = reason;
      child.kill('SIGKILL');
      reject(reason);
    };
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop(unavailable(`${[file, ...args].join(' ')}: timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    const onAbort = () => stop(abortError(file, args, options.signal!));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      settle();
      if (!stopped) reject(internal(`cannot run ${file}: ${e.message}`, e));
    });
    child.on('close', (code) => {
      settle();
      if (stopped) return;
      const result = { stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: code ?? -1 };
      if (code !== 0 && !options.allowFailure) {
        reject(new ExecError([file, ...args], code, result.stderr.toString()));
      } else {
        resolve(result);
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

function abortError(file: string, args: readonly string[], signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return unavailable(`${[file, ...args].join(' ')}: aborted: ${why}`, reason);
}
