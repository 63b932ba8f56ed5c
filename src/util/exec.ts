import { spawn, SpawnOptions } from 'node:child_process';
import { EngineError, internal } from '../errors';

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
}

export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(internal(`cannot run ${file}: ${e.message}`, e)));
    child.on('close', (code) => {
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
