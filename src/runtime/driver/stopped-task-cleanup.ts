import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, isENOENT } from '../../errors';
import { removeTree } from '../../util/remove-tree';
import { readTaskStateFile } from '../runc/task-state-file';

/**
 * Does what `runc delete` (or `crun delete`) does for a container whose init process has
 * exited: removes its cgroup directories and its state dir. Spawning runc for this costs 10-17 ms on every
 * container exit. Only the plain case is handled here: a private pid namespace (so no
 * process outlived init), no hooks (runc would run poststop hooks), no Intel RDT group,
 * and an init pid that is gone (or reused by a process that started at another time).
 * Anything else, or any error, returns false and leaves the rest to `runc delete --force`.
 */
export async function removeStoppedTaskState(stateDir: string): Promise<boolean> {
  const state = await readTaskStateFile(stateDir);
  if (!state || !state.privatePidNamespace || state.hasHooks || state.hasIntelRdt || !state.initPid || state.initStart === undefined) return false;
  if (await isProcessAlive(state.initPid, state.initStart)) return false;
  // With init gone, the kernel has killed the rest of its pid namespace; a cgroup that is
  // still busy (a process not reaped yet, a child cgroup) makes rmdir fail: runc then retries
  // (it skips the ones gone). One rmdir per cgroup v1 hierarchy, all at once.
  const removed = await Promise.all(
    [...new Set(Object.values(state.cgroupPaths))].map((dir) =>
      fs.rmdir(dir).then(
        () => true,
        (err: unknown) => isENOENT(err),
      ),
    ),
  );
  if (removed.includes(false)) return false;
  await removeTree(stateDir);
  return true;
}

/** True while `pid` is the process that started at `startTime` (clock ticks since boot, /proc/<pid>/stat field 22). */
async function isProcessAlive(pid: number, startTime: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err: unknown) {
    if (isENOENT(err) || errnoCode(err) === 'ESRCH') return false;
    return true;
  }
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Same start time: the init itself, running or a zombie not reaped yet; leave both to runc.
  return Number(fields[19]) === startTime;
}

/**
 * Without runc (it hung or failed): SIGKILLs the container's init, named by runc's state
 * file and checked by its start time, so a reused pid is never hit. With a private pid
 * namespace the kernel then kills the rest. False when there is no such live process.
 */
export async function killInitProcess(stateDir: string): Promise<boolean> {
  const state = await readTaskStateFile(stateDir);
  const pid = state?.initPid;
  if (!state || !pid || state.initStart === undefined || !(await isProcessAlive(pid, state.initStart))) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  // A paused container's processes take the signal only once thawed (runc resume may be what hangs).
  await thaw(state.cgroupPaths);
  return true;
}

/** Thaws a frozen container through its cgroups (v1 freezer.state, v2 cgroup.freeze); absent files are fine. */
async function thaw(cgroupPaths: Record<string, string>): Promise<void> {
  if (cgroupPaths.freezer) await fs.writeFile(path.join(cgroupPaths.freezer, 'freezer.state'), 'THAWED').catch(() => undefined);
  else if (cgroupPaths['']) await fs.writeFile(path.join(cgroupPaths[''], 'cgroup.freeze'), '0').catch(() => undefined);
}

/**
 * Without runc: SIGKILLs every process in the cgroups the runtime's state file names (what
 * `runc delete --force` would kill), or those of them `which` picks. Returns how many were signalled.
 */
export async function killCgroupProcesses(stateDir: string, which: (pid: number) => boolean = () => true): Promise<number> {
  const state = await readTaskStateFile(stateDir);
  if (!state) return 0;
  const pids = new Set<number>();
  for (const dir of new Set(Object.values(state.cgroupPaths))) {
    const text = await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (Number(line) > 0 && which(Number(line))) pids.add(Number(line));
  }
  let killed = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}
