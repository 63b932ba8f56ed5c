import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { chainIds, type Digest } from '../../src/util/digest';
import type { FixtureImage } from '../../test/helpers/fixture-image';
import { sleep } from './stats';

/**
 * Waits until berthd's store under `dataRoot` holds none of `layers` (of `image`, in order):
 * neither their blobs nor their unpacked layers. A removed image's blobs and layers are
 * collected in the background after rmi; a pull timed before that would skip them.
 */
export async function waitCollected(dataRoot: string, image: FixtureImage, layers: FixtureImage['layers'] = image.layers): Promise<void> {
  const blobs = path.join(dataRoot, 'content', 'content', 'blobs', 'sha256');
  const wanted = new Set(layers.map((l) => l.digest));
  const chains = chainIds(image.layers.map((l) => l.diffId as Digest)).filter((_, i) => wanted.has(image.layers[i]!.digest));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const present = new Set(await fs.readdir(blobs).catch(() => [] as string[]));
    const snapshots = await fs.readFile(path.join(dataRoot, 'snapshots', 'metadata.json'), 'utf8').catch(() => '');
    if (layers.every((l) => !present.has(l.digest.slice(7))) && chains.every((c) => !snapshots.includes(c))) return;
    if (Date.now() > deadline) throw new Error("the removed image's blobs and layers were not collected within 60 s");
    await sleep(50);
  }
}
