import { promises as fs } from 'node:fs';
import { runCommand } from './cli';

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

/** SIGKILLs every process whose command line names a path under `root` (what a test started there). */
export async function killProcessesUnder(root: string): Promise<void> {
  for (const pid of await findProcesses((cmd) => cmd.includes(`${root}/`))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
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
