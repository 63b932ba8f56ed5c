import { promises as fs } from 'node:fs';
import { spawn } from 'node:child_process';

/** Resident set size of a process in bytes (VmRSS), or 0 when it is gone. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Pids whose command line satisfies `test` (argv joined by spaces). */
export async function findProcesses(test: (cmdline: string) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const raw = await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (raw && test(raw.split('\0').join(' '))) pids.push(Number(name));
  }
  return pids;
}

export interface CommandResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion, collecting its output. */
export function runCommand(file: string, args: string[], options: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Like runCommand, but throws with stderr on a non-zero exit. */
export async function mustRun(file: string, args: string[], options: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')}: exited with ${result.code}: ${result.stderr.trim()}`);
  return result;
}

/** Unmounts everything mounted at or below `root`, deepest first. */
export async function unmountUnder(root: string): Promise<void> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const mounts = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === root || m.startsWith(root + '/')))
    .sort((a, b) => b.length - a.length);
  for (const mount of mounts) await runCommand('umount', ['-l', mount]);
}
