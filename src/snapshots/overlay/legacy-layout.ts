import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readJsonIfExists, writeJsonAtomic } from '../../util/atomic-fs';
import { isDigest } from '../../util/digest';
import { isENOENT } from '../../errors';
import { SnapshotMetadata, SnapshotRecord } from './metadata';
import { DIFF_ID_LABEL } from '../unpacker';
import { CONTAINER_LABEL } from '../container-snapshots';
import { pathExists } from '../../util/path-exists';

/**
 * Moves a data root from the layout before snapshots into the overlay snapshotter:
 *   layers/<chainIdHex>/diff  (+ layer.json, layers/l/<short>)  → committed snapshot <chainId>
 *   rootfs/<id>/{upper,work}  (+ rootfs.json)                   → active snapshot <id>
 * Only renames and one metadata write, so it is quick and copies nothing. It follows a plan
 * written first (`<data-root>/snapshots-migration.json`): a kill -9 at any point is finished
 * on the next start, before the snapshotter's init() could take half-moved directories for
 * litter. Mount points (`rootfs/<id>/merged`) stay where they are, and overlay keeps using
 * moved directories it has mounted, so running containers are unaffected.
 */
interface PlanEntry {
  name: string;
  id: string;
  kind: 'committed' | 'active';
  parent: string | null;
  labels: Record<string, string>;
  moves: Array<[from: string, to: string]>;
}

interface Plan {
  entries: PlanEntry[];
}

interface LegacyLayer {
  chainId: string;
  diffId: string;
  parent: string | null;
}

const PLAN_FILE = 'snapshots-migration.json';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface MigrationResult {
  layers: number;
  containers: number;
}

/** Migrates (or finishes migrating) `dataRoot`'s legacy layers/ and rootfs/ into `snapshotsRoot`. */
export async function migrateLegacyLayout(dataRoot: string, snapshotsRoot: string, hooks: { afterMove?: (n: number) => void } = {}): Promise<MigrationResult> {
  const planFile = path.join(dataRoot, PLAN_FILE);
  let plan = await readJsonIfExists<Plan>(planFile);
  if (!plan) {
    plan = await makePlan(dataRoot, snapshotsRoot);
    if (plan.entries.length === 0) {
      await fs.rm(path.join(dataRoot, 'layers'), { recursive: true, force: true });
      return { layers: 0, containers: 0 };
    }
    await writeJsonAtomic(planFile, plan, 0o600);
  }

  await fs.mkdir(snapshotsRoot, { recursive: true, mode: 0o700 });
  let moved = 0;
  for (const entry of plan.entries) {
    await fs.mkdir(path.join(snapshotsRoot, entry.id), { recursive: true, mode: 0o755 });
    for (const [from, to] of entry.moves) {
      if (await pathExists(from)) {
        await fs.rename(from, to);
        hooks.afterMove?.(++moved);
      } else if (!(await pathExists(to))) {
        await fs.mkdir(to, { mode: 0o755 }); // an empty work dir, or data lost before we came
      }
    }
  }

  const metadata = new SnapshotMetadata(SnapshotMetadata.fileIn(snapshotsRoot));
  await metadata.load();
  const now = Date.now();
  await metadata.update((records) => {
    for (const e of plan.entries) {
      if (records.has(e.name)) continue;
      const record: SnapshotRecord = { id: e.id, kind: e.kind, parent: e.parent, labels: e.labels, created: now, updated: now };
      records.set(e.name, record);
    }
  });

  await fs.rm(path.join(dataRoot, 'layers'), { recursive: true, force: true });
  for (const name of await readdirIfExists(path.join(dataRoot, 'rootfs'))) {
    if (name.startsWith('.tmp-')) await fs.rm(path.join(dataRoot, 'rootfs', name), { recursive: true, force: true });
  }
  for (const e of plan.entries) {
    if (e.kind !== 'active') continue;
    const dir = path.join(dataRoot, 'rootfs', e.name);
    for (const leftover of ['rootfs.json', 'empty', 'upper', 'work']) {
      await fs.rm(path.join(dir, leftover), { recursive: true, force: true }).catch(() => undefined); // a mounted `empty` may stay
    }
  }
  await fs.rm(planFile, { force: true });
  const layers = plan.entries.filter((e) => e.kind === 'committed').length;
  return { layers, containers: plan.entries.length - layers };
}

async function makePlan(dataRoot: string, snapshotsRoot: string): Promise<Plan> {
  const entries: PlanEntry[] = [];
  const taken = new Set<string>();
  const newId = () => {
    for (;;) {
      let id = '';
      for (const byte of randomBytes(12)) id += BASE32[byte & 31];
      if (!taken.has(id)) {
        taken.add(id);
        return id;
      }
    }
  };
  const layersDir = path.join(dataRoot, 'layers');
  for (const name of await readdirIfExists(layersDir)) {
    const layer = await readJsonIfExists<LegacyLayer>(path.join(layersDir, name, 'layer.json'));
    if (!layer || !isDigest(layer.chainId) || !isDigest(layer.diffId)) continue; // a crash leftover
    const id = newId();
    entries.push({
      name: layer.chainId,
      id,
      kind: 'committed',
      parent: layer.parent,
      labels: { [DIFF_ID_LABEL]: layer.diffId },
      moves: [[path.join(layersDir, name, 'diff'), path.join(snapshotsRoot, id, 'fs')]],
    });
  }
  const rootfsDir = path.join(dataRoot, 'rootfs');
  for (const name of await readdirIfExists(rootfsDir)) {
    const record = await readJsonIfExists<{ parent: string | null }>(path.join(rootfsDir, name, 'rootfs.json'));
    if (!record || name.startsWith('.')) continue;
    const id = newId();
    entries.push({
      name,
      id,
      kind: 'active',
      parent: record.parent,
      labels: { [CONTAINER_LABEL]: name },
      moves: [
        [path.join(rootfsDir, name, 'upper'), path.join(snapshotsRoot, id, 'fs')],
        [path.join(rootfsDir, name, 'work'), path.join(snapshotsRoot, id, 'work')],
      ],
    });
  }
  return { entries };
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (err) {
    if (isENOENT(err)) return [];
    throw err;
  }
}
