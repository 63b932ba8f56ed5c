import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_MAIN } from './test-daemon';

/**
 * The warm CLI processes (src/cli/spare) of this test process's berth commands wait on a
 * socket of its own, not the installation's in /run/berth-cli (every child inherits it);
 * removing it at exit ends them.
 */
const SPARE_DIR = path.join(os.tmpdir(), `berth-cli-test-${process.pid}`);
process.env.BERTH_CLI_SOCKET ??= path.join(SPARE_DIR, 'cli.sock');
// A spare that is just starting may still add its socket while the folder goes: retried.
process.on('exit', () => rmSync(SPARE_DIR, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 }));

export interface CommandResult {
  stdout: string;
  /** stdout as bytes, for binary output (image archives). */
  stdoutBytes: Buffer;
  stderr: string;
  code: number;
}

/** The docker 28 client on this machine and Debian's 20.10 client, where installed. */
export const DOCKER_CLIENTS = ['/usr/local/bin/docker', '/usr/bin/docker'].filter((p) => existsSync(p));

export function runCommand(file: string, args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({ stdout: bytes.toString(), stdoutBytes: bytes, stderr: Buffer.concat(err).toString(), code: code ?? -1 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a docker client against a berth socket. */
export function docker(client: string, host: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(client, ['-H', host, ...args], { ...options, env: { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_CLI_HINTS: 'false' } });
}

/** Runs the berth CLI against a berth socket. */
export function berth(host: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(CLI_MAIN, args, { ...options, env: { BERTH_HOST: host } });
}
