import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { lookPath } from '../../util/look-path';

/**
 * The two OCI runtimes berth drives. Both take the same commands and flags; they differ in
 * their state files (task-state-file.ts), their error words, and what they need around them.
 * crun, a small C program, starts a container in about a third of runc's time here (runc is
 * Go, and starts its binary twice per container).
 */
export type RuntimeFlavor = 'runc' | 'crun';

/** The flavor of a runtime binary, by its name (`crun`, `/usr/local/bin/crun-1.20`: crun; anything else: runc). */
export function runtimeFlavor(binary: string): RuntimeFlavor {
  return path.basename(binary).startsWith('crun') ? 'crun' : 'runc';
}

/** The runtime berthd runs when none is configured: crun when it is installed, else runc. */
export async function defaultRuntimeBinary(): Promise<string> {
  const crun = await lookPath('crun');
  return crun.includes('/') ? crun : 'runc';
}

/** The v2 tree's controller list on a hybrid cgroup host (v1 controllers, plus a v2 tree at /sys/fs/cgroup/unified). */
const HYBRID_V2_CONTROLLERS = '/sys/fs/cgroup/unified/cgroup.controllers';

/**
 * The file crun must see empty to create a container here, or undefined. crun refuses a
 * hybrid host whose v2 tree holds a controller ("cgroups in hybrid mode not supported, drop
 * all controllers from cgroupv2"): this machine's holds hugetlb. It then runs in a mount
 * namespace of its own where that list reads empty (berth-monitor --runtime-hide), and uses
 * the v1 controllers as runc does; no host setting changes.
 */
export function crunHiddenFile(): string | undefined {
  try {
    return readFileSync(HYBRID_V2_CONTROLLERS, 'utf8').trim() === '' ? undefined : HYBRID_V2_CONTROLLERS;
  } catch {
    return undefined; // not a hybrid host
  }
}
