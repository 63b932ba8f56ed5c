import { promises as fs } from 'node:fs';
import * as path from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * What berth reads of a runtime's own state for one container (`<root>/<id>`), to clean up,
 * kill or measure it without spawning the runtime: runc keeps `state.json`, crun keeps
 * `status` plus a copy of the bundle's `config.json`.
 */
export interface TaskStateFile {
  /** The container's init, and its start time (clock ticks since boot, /proc/<pid>/stat field 22). */
  initPid?: number;
  initStart?: number;
  /** The cgroup dir per hierarchy: {"memory": "/sys/fs/cgroup/memory/berth/<id>", ...}; pure v2: {"": dir}. */
  cgroupPaths: Record<string, string>;
  /** The container has a pid namespace of its own (so nothing outlives its init). */
  privatePidNamespace: boolean;
  /** The runtime would run hooks at delete. */
  hasHooks: boolean;
  /** An Intel RDT group the runtime would remove. */
  hasIntelRdt: boolean;
}

/** runc's state.json (libcontainer's names). */
interface RuncStateJson {
  init_process_pid?: number;
  init_process_start?: number;
  cgroup_paths?: Record<string, string>;
  intel_rdt_path?: string;
  config?: {
    namespaces?: Array<{ type?: string; path?: string }>;
    Hooks?: Record<string, unknown[] | null> | null;
  };
}

/** crun's status file. */
interface CrunStatus {
  pid?: number;
  'process-start-time'?: number;
  'cgroup-path'?: string;
}

/** The OCI config crun keeps beside its status. */
interface OciConfigCopy {
  hooks?: Record<string, unknown[] | null> | null;
  linux?: { namespaces?: Array<{ type?: string; path?: string }>; intelRdt?: unknown };
}

const hasEntries = (hooks: Record<string, unknown[] | null> | null | undefined) => Object.values(hooks ?? {}).some((list) => Array.isArray(list) && list.length > 0);

/** The runtime's state for a container, or undefined when it keeps none (or it cannot be read). */
export async function readTaskStateFile(stateDir: string): Promise<TaskStateFile | undefined> {
  const runc = await readJson<RuncStateJson>(path.join(stateDir, 'state.json'));
  if (runc) {
    const namespaces = runc.config?.namespaces ?? [];
    return {
      initPid: runc.init_process_pid,
      initStart: runc.init_process_start,
      cgroupPaths: runc.cgroup_paths ?? {},
      privatePidNamespace: namespaces.some((ns) => ns.type === 'NEWPID' && !ns.path),
      hasHooks: hasEntries(runc.config?.Hooks),
      hasIntelRdt: Boolean(runc.intel_rdt_path),
    };
  }
  const status = await readJson<CrunStatus>(path.join(stateDir, 'status'));
  if (!status) return undefined;
  const config = await readJson<OciConfigCopy>(path.join(stateDir, 'config.json'));
  const namespaces = config?.linux?.namespaces ?? [];
  return {
    initPid: status.pid,
    initStart: status['process-start-time'],
    cgroupPaths: status['cgroup-path'] ? await cgroupDirs(status['cgroup-path']) : {},
    // Without its config copy nothing is known: treat it as the unusual case.
    privatePidNamespace: config !== undefined && namespaces.some((ns) => ns.type === 'pid' && !ns.path),
    hasHooks: hasEntries(config?.hooks),
    hasIntelRdt: config?.linux?.intelRdt !== undefined,
  };
}

let hierarchies: Promise<string[]> | undefined;

/**
 * The cgroup hierarchies mounted under /sys/fs/cgroup, as dir names ([''] for a pure v2
 * host). A cgroupfs runtime (crun) makes the container's cgroup at the same relative path in
 * each of them, hybrid's v2 tree included. Mounts there do not change while berthd runs.
 */
function mountedHierarchies(): Promise<string[]> {
  hierarchies ??= (async () => {
    const pureV2 = await fs.access(path.join(CGROUP_ROOT, 'cgroup.controllers')).then(
      () => true,
      () => false,
    );
    if (pureV2) return [''];
    const entries = await fs.readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => []);
    // A symlink (cpu -> cpu,cpuacct) is kept too: readers look hierarchies up by controller, as in runc's state.
    const isHierarchy = async (name: string, isDirectory: boolean, isLink: boolean) =>
      isDirectory || (isLink && (await fs.stat(path.join(CGROUP_ROOT, name)).then((stat) => stat.isDirectory(), () => false)));
    const kept = await Promise.all(entries.map((entry) => isHierarchy(entry.name, entry.isDirectory(), entry.isSymbolicLink())));
    return entries.filter((_, i) => kept[i]).map((entry) => entry.name);
  })();
  return hierarchies;
}

async function cgroupDirs(cgroupPath: string): Promise<Record<string, string>> {
  const dirs: Record<string, string> = {};
  for (const name of await mountedHierarchies()) dirs[name] = path.join(CGROUP_ROOT, name, cgroupPath);
  return dirs;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
