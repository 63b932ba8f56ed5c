import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { notFound } from '../../errors';
import type { TaskStats } from './types';

/** runc's state.json, for the cgroup dirs it made: {"memory": "/sys/fs/cgroup/memory/berth/<id>", ...} (pure v2: {"": dir}). */
async function cgroupPaths(runcStateDir: string, id: string): Promise<Record<string, string>> {
  try {
    const state = JSON.parse(await fs.readFile(path.join(runcStateDir, 'state.json'), 'utf8')) as { cgroup_paths?: Record<string, string> };
    return state.cgroup_paths ?? {};
  } catch {
    throw notFound(`no cgroups for task ${id}: it is not running`);
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function readNumber(file: string): Promise<number | undefined> {
  const text = (await readText(file))?.trim();
  if (text === undefined || text === '' || text === 'max') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** "key value" lines (memory.stat, cpu.stat) as numbers. */
function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && Number.isFinite(Number(value))) out[key] = Number(value);
  }
  return out;
}

/** v1 reports "no limit" as a huge page-aligned number. */
const NO_LIMIT_V1 = 2 ** 62;

/** Memory, CPU and pids counters of a runc container, from its cgroups (v1, or v2 unified). */
export async function readCgroupStats(runcStateDir: string, id: string): Promise<TaskStats> {
  const paths = await cgroupPaths(runcStateDir, id);
  // A hybrid host lists the (controller-less) unified dir under "" beside the v1 ones.
  const unified = paths.memory === undefined ? paths[''] : undefined;
  if (unified !== undefined) {
    const stat = keyValues(await readText(path.join(unified, 'cpu.stat')));
    return {
      memory: {
        usage: (await readNumber(path.join(unified, 'memory.current'))) ?? 0,
        maxUsage: await readNumber(path.join(unified, 'memory.peak')),
        limit: await readNumber(path.join(unified, 'memory.max')),
        stats: keyValues(await readText(path.join(unified, 'memory.stat'))),
      },
      cpu: { totalNs: (stat.usage_usec ?? 0) * 1000, perCpuNs: [] },
      pids: { current: (await readNumber(path.join(unified, 'pids.current'))) ?? 0, limit: await readNumber(path.join(unified, 'pids.max')) },
    };
  }
  const memory = paths.memory;
  const cpuacct = paths.cpuacct ?? paths.cpu;
  const pids = paths.pids;
  const limit = memory ? await readNumber(path.join(memory, 'memory.limit_in_bytes')) : undefined;
  const pidsLimit = pids ? await readNumber(path.join(pids, 'pids.max')) : undefined;
  return {
    memory: {
      usage: (memory && (await readNumber(path.join(memory, 'memory.usage_in_bytes')))) || 0,
      maxUsage: memory ? await readNumber(path.join(memory, 'memory.max_usage_in_bytes')) : undefined,
      limit: limit !== undefined && limit < NO_LIMIT_V1 ? limit : undefined,
      failcnt: memory ? await readNumber(path.join(memory, 'memory.failcnt')) : undefined,
      stats: memory ? keyValues(await readText(path.join(memory, 'memory.stat'))) : {},
    },
    cpu: {
      totalNs: (cpuacct && (await readNumber(path.join(cpuacct, 'cpuacct.usage')))) || 0,
      perCpuNs: cpuacct ? ((await readText(path.join(cpuacct, 'cpuacct.usage_percpu'))) ?? '').trim().split(/\s+/).filter(Boolean).map(Number) : [],
    },
    pids: { current: (pids && (await readNumber(path.join(pids, 'pids.current')))) || 0, limit: pidsLimit },
  };
}
