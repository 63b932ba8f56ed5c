import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Finds berth-monitor processes serving a socket under `dir`, by reading /proc/<pid>/cmdline.
 * The monitor double-forks, so the driver never holds its pid; this is how a task's
 * monitor is found again (e.g. one created but never started, which waits forever).
 */
export async function findMonitors(dir: string): Promise<Array<{ pid: number; socketPath: string }>> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const found: Array<{ pid: number; socketPath: string }> = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = (await fs.readFile(`/proc/${name}/cmdline`)).toString().split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (path.basename(argv[0] ?? '') !== 'berth-monitor') continue;
    const socket = argv[argv.indexOf('--socket') + 1];
    if (argv.includes('--socket') && socket?.startsWith(prefix)) found.push({ pid: Number(name), socketPath: socket });
  }
  return found;
}

/** SIGKILLs the given pids, ignoring ones already gone. */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already exited
    }
  }
}
