import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { LocalContentStore } from '../../../src/content/local/store';
import { OverlaySnapshotter } from '../../../src/snapshots/overlay/snapshotter';
import { SnapshotUnpacker } from '../../../src/snapshots/unpacker';
import { ImageMetadataStore } from '../../../src/metadata/images';
import { ImageService } from '../../../src/engine/images/image-service';
import { silentLogger } from '../../../src/util/logger';

export interface Harness {
  root: string;
  content: LocalContentStore;
  layers: SnapshotUnpacker;
  metadata: ImageMetadataStore;
  service: ImageService;
}

/** A fresh data root with the real stores; removed after the test. */
export async function harness(t: { after(fn: () => Promise<void>): void }): Promise<Harness> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bi-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return openHarness(root);
}

/** Opens the stores at `root` (e.g. again, as after a daemon restart). */
export async function openHarness(root: string): Promise<Harness> {
  const content = new LocalContentStore(root);
  await content.init();
  const snapshotter = new OverlaySnapshotter(path.join(root, 'snapshots'));
  await snapshotter.init();
  const layers = new SnapshotUnpacker(snapshotter);
  const metadata = new ImageMetadataStore(root);
  await metadata.init();
  return { root, content, layers, metadata, service: new ImageService({ content, layers, metadata, logger: silentLogger }) };
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
}

export async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode, size: data?.length ?? 0, mtime: new Date(1_700_000_000_000) }, data ?? Buffer.alloc(0));
  }
  pack.finalize();
  return collect(Readable.from(pack as unknown as AsyncIterable<Buffer>));
}

/** Reads a tar into name → body (regular files) and name → linkname (links). */
export async function readTar(buf: Buffer): Promise<Array<{ name: string; type: string; data: Buffer; linkname?: string }>> {
  const ex = tarStream.extract();
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  const out: Array<{ name: string; type: string; data: Buffer; linkname?: string }> = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ name: entry.header.name, type: entry.header.type, data: Buffer.concat(chunks), linkname: entry.header.linkname || undefined });
  }
  return out;
}

export async function writeTarEntries(entries: Array<{ name: string; type: string; data: Buffer; linkname?: string }>): Promise<Buffer> {
  return makeTar(entries.map((e) => ({ name: e.name, type: e.type as Entry['type'], data: e.data, linkname: e.linkname })));
}
