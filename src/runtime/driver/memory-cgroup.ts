import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTaskStateFile } from '../runc/task-state-file';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * The host dir of a container's memory cgroup, for the monitor's OOM counter: the v1
 * memory hierarchy when it is mounted (v1 and hybrid hosts), else the unified v2 tree.
 * `cgroupsPath` is the spec's absolute cgroupfs path, e.g. /berth/<id>.
 */
export function memoryCgroupDir(cgroupsPath: string | undefined): string | undefined {
  if (!cgroupsPath || !path.isAbsolute(cgroupsPath) || cgroupsPath.split('/').includes('..')) return undefined;
  if (fs.existsSync(path.join(CGROUP_ROOT, 'memory', 'memory.oom_control'))) return path.join(CGROUP_ROOT, 'memory', cgroupsPath);
  if (fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'))) return path.join(CGROUP_ROOT, cgroupsPath);
  return undefined;
}

/**
 * The memory cgroup dir the runtime made for a running task (from its state: the v1 memory
 * hierarchy, or the unified dir), for an exec's monitor to report an OOM kill during the exec.
 */
export async function taskMemoryCgroupDir(runtimeStateDir: string): Promise<string | undefined> {
  const paths = (await readTaskStateFile(runtimeStateDir))?.cgroupPaths;
  return paths?.memory ?? paths?.[''];
}
