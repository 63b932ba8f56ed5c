/**
 * A child process for the kill -9 test of the metadata stores: it changes the image and
 * container stores in a loop and prints the number of each iteration once both of its
 * batches are written, until it is killed. It continues from what the stores hold.
 */
import * as path from 'node:path';
import { ImageMetadataStore } from '../../src/metadata/images';
import { ContainerStore, newContainerState } from '../../src/metadata/containers';
import { parseNormalizedNamed } from '../../src/images/reference';
import type { Digest } from '../../src/util/digest';

const imageId = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}`;
const BASE = `sha256:${'b'.repeat(64)}` as Digest;
const CONTAINER_ID = 'c'.repeat(64);

async function main(): Promise<void> {
  const root = process.argv[2] as string;
  // Small thresholds, so compactions (temp file + rename) happen while the process may die.
  const images = new ImageMetadataStore(path.join(root, 'images'), { minDeadLines: 20 });
  const containers = new ContainerStore(path.join(root, 'containers'), { minDeadLines: 20 });
  await images.init();
  await containers.init();
  const target = (id: Digest) => ({
    id,
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: id, size: 1 },
    references: { config: id, layers: [], chains: [] },
    registeredAt: new Date().toISOString(),
  });
  if (!images.get(BASE)) await images.putImage(target(BASE));
  const current = images.lookupRef(parseNormalizedNamed('img'));
  // The tag points at the image iteration i-1 wrote: go on with iteration i.
  let i = current === undefined ? 0 : Number.parseInt(current.slice(7), 16);
  for (;; i++) {
    const n = i;
    await images.update((tx) => {
      tx.putImage(target(imageId(n + 1)));
      tx.setRef(parseNormalizedNamed('img'), imageId(n + 1));
      if (n > 0) tx.deleteImage(imageId(n));
      if (n % 10 === 0) tx.setRef(parseNormalizedNamed(`keep:${n}`), BASE);
    });
    const record = containers.find(CONTAINER_ID) ?? {
      Id: CONTAINER_ID,
      Name: '/c',
      Created: new Date().toISOString(),
      ImageName: 'img',
      ImageId: BASE,
      ImageChainId: null,
      Path: 'sh',
      Args: [],
      Config: {},
      HostConfig: {},
      State: newContainerState(),
      RestartCount: 0,
    };
    record.RestartCount = n;
    await containers.save(record, { durable: n % 2 === 0 });
    process.stdout.write(`${n}\n`);
  }
}

// `node --test dist/` loads every file under test/ too: without a data root, do nothing.
if (process.argv[2] !== undefined) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
