import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { readMonitorPidFile } from '../monitor/spawn-monitor';

/** The name of the pid file each monitor keeps in its task dir (--monitor-pid-file). */
export const MONITOR_PID_FILE = 'monitor.pid';

/**
 * Finds the berth-monitor processes of the task dirs under `dir` (the dir itself and its
 * exec dirs) from the pid files they write while they live. A pid file left by a monitor
 * that was killed (-9) may name a reused pid: /proc/<pid>/cmdline must still be a
 * berth-monitor serving that dir's socket.
 */
export async function findMonitors(dir: string): Promise<Array<{ pid: number; socketPath: string }>> {
  const found: Array<{ pid: number; socketPath: string }> = [];
  for (const taskDir of await taskDirs(dir)) {
    const pid = await readMonitorPidFile(path.join(taskDir, MONITOR_PID_FILE));
    if (pid === undefined) continue;
    const socketPath = path.join(taskDir, 'attach.sock');
    if (await isMonitorOf(pid, socketPath)) found.push({ pid, socketPath });
  }
  return found;
}

async function isMonitorOf(pid: number, socketPath: string): Promise<boolean> {
  let argv: string[];
  try {
    argv = (await fs.readFile(`/proc/${pid}/cmdline`)).toString().split('\0');
  } catch {
    return false; // exited
  }
  const socketAt = argv.indexOf('--socket');
  return path.basename(argv[0] ?? '') === 'berth-monitor' && socketAt >= 0 && argv[socketAt + 1] === socketPath;
}

/** `dir` and its sub dirs (a container's task dir holds one dir per exec). */
async function taskDirs(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const dirs = [dir];
  for (const entry of entries) if (entry.isDirectory()) dirs.push(...(await taskDirs(path.join(dir, entry.name))));
  return dirs;
}

/**
 * SIGKILLs the given monitors with their process groups, ignoring ones already gone. A
 * monitor's group (it called setsid) holds the runtime it runs (`runc run`/`runc exec`):
 * killing the monitor alone would leave a hung runtime behind. The container's processes
 * are not in it (runc's init starts a session of its own).
 */
export async function killMonitors(pids: readonly number[]): Promise<void> {
  const ownGroup = await processGroupOf('self');
  for (const pid of pids) {
    const group = await processGroupOf(String(pid));
    try {
      process.kill(group !== undefined && group > 1 && group !== ownGroup ? -group : pid, 'SIGKILL');
    } catch {
      // already exited
    }
  }
}

/** The process group of /proc/<pid> (field 5 of its stat), or undefined when it is gone. */
async function processGroupOf(pid: string): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(group) ? group : undefined;
  } catch {
    return undefined;
  }
}
