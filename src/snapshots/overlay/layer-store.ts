import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { Layer, LayerStore } from '../types';
import { Digest, Digester, digestOf, hexOf, isDigest } from '../../util/digest';
import { fsyncDir, readJsonIfExists, writeJsonAtomic } from '../../util/atomic-fs';
import { extractLayer } from '../../archive/tar/extract';
import { errnoCode, invalidArgument, isENOENT, notFound } from '../../errors';

/**
 * Layers on disk, one directory per chain ID:
 *   <root>/<chainIdHex>/diff/        the unpacked files, whiteouts in overlay form
 *   <root>/<chainIdHex>/layer.json   metadata (written before the directory is renamed in)
 *   <root>/l/<linkId> → ../<chainIdHex>/diff
 * A layer is unpacked into <root>/.tmp-<random>/ and renamed into place, so it is visible
 * only when complete. The short link ids keep overlay's lowerdir option (one page, 4096
 * bytes, for the whole mount data) small: with a root like /var/lib/berth/layers each
 * layer costs 38 bytes, so about 100 layers fit.
 */
interface LayerRecord extends Layer {
  /** Name of the layer's symlink in <root>/l/. */
  link: string;
}

const LINK_DIR = 'l';
const TEMP_PREFIX = '.tmp-';
const LINK_ID_LENGTH = 12;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export class OverlayLayerStore implements LayerStore {
  constructor(private readonly root: string) {}

  /** Creates the layout and removes what a crash left behind: temp dirs, dirs without layer.json, dangling links. */
  async init(): Promise<void> {
    await fs.mkdir(path.join(this.root, LINK_DIR), { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(this.root)) {
      if (name === LINK_DIR) continue;
      const dir = path.join(this.root, name);
      if (name.startsWith(TEMP_PREFIX) || !(await exists(path.join(dir, 'layer.json')))) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
    const linkDir = path.join(this.root, LINK_DIR);
    for (const name of await fs.readdir(linkDir)) {
      if (!(await exists(path.join(linkDir, name)))) await fs.rm(path.join(linkDir, name), { force: true });
    }
  }

  async apply(parent: Digest | null, tar: Readable, expectedDiffId?: Digest): Promise<Layer> {
    if (parent !== null && !(await this.get(parent))) throw notFound(`layer ${parent} does not exist`);
    if (expectedDiffId) {
      const existing = await this.get(chainIdOf(parent, expectedDiffId));
      if (existing) {
        await drain(tar);
        return existing;
      }
    }
    const tmp = path.join(this.root, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    await fs.mkdir(path.join(tmp, 'diff'), { recursive: true, mode: 0o755 });
    let link: string | undefined;
    try {
      const digester = new Digester();
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, done) {
          digester.update(chunk);
          done(null, chunk);
        },
      });
      tar.on('error', (err) => hashing.destroy(err));
      const { size } = await extractLayer(tar.pipe(hashing), path.join(tmp, 'diff'), { whiteouts: 'overlay' });
      const diffId = digester.digest();
      if (expectedDiffId && diffId !== expectedDiffId) {
        throw invalidArgument(`layer diff ID mismatch: expected ${expectedDiffId}, got ${diffId}`);
      }
      const chainId = chainIdOf(parent, diffId);
      const existing = await this.get(chainId);
      if (existing) return existing;
      link = await this.createLink(hexOf(chainId));
      const record: LayerRecord = { chainId, diffId, parent, size, link };
      await writeJsonAtomic(path.join(tmp, 'layer.json'), record);
      try {
        await fs.rename(tmp, this.layerDir(chainId));
      } catch (err) {
        // Another apply of the same layer won the race: keep its copy.
        if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
        const winner = await this.get(chainId);
        if (!winner) throw err;
        return winner;
      }
      link = undefined; // now owned by the layer
      await fsyncDir(this.root);
      return publicLayer(record);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
      if (link !== undefined) await fs.rm(path.join(this.root, LINK_DIR, link), { force: true });
    }
  }

  async get(chainId: Digest): Promise<Layer | undefined> {
    const record = await this.record(chainId);
    return record && publicLayer(record);
  }

  async list(): Promise<Layer[]> {
    const layers: Layer[] = [];
    for (const name of (await fs.readdir(this.root)).sort()) {
      const chainId = `sha256:${name}`;
      if (!isDigest(chainId)) continue;
      const layer = await this.get(chainId);
      if (layer) layers.push(layer);
    }
    return layers;
  }

  async lowerDirs(chainId: Digest): Promise<string[]> {
    const dirs: string[] = [];
    let current: Digest | null = chainId;
    while (current !== null) {
      const record = await this.record(current);
      if (!record) throw notFound(`layer ${current} does not exist`);
      dirs.push(path.join(this.root, LINK_DIR, record.link));
      current = record.parent;
    }
    return dirs;
  }

  async remove(chainId: Digest): Promise<void> {
    const record = await this.record(chainId);
    if (!record) return;
    // Rename first so a crash mid-delete leaves a temp dir for init(), never half a layer.
    const doomed = path.join(this.root, `${TEMP_PREFIX}rm-${hexOf(chainId)}`);
    await fs.rm(doomed, { recursive: true, force: true });
    try {
      await fs.rename(this.layerDir(chainId), doomed);
    } catch (err) {
      if (isENOENT(err)) return; // removed concurrently
      throw err;
    }
    await fs.rm(path.join(this.root, LINK_DIR, record.link), { force: true });
    await fs.rm(doomed, { recursive: true, force: true });
  }

  /** The layer's own directory of files (not a link), e.g. for diffs against it. */
  diffDir(chainId: Digest): string {
    return path.join(this.layerDir(chainId), 'diff');
  }

  private layerDir(chainId: Digest): string {
    return path.join(this.root, hexOf(chainId));
  }

  private async record(chainId: Digest): Promise<LayerRecord | undefined> {
    if (!isDigest(chainId)) throw invalidArgument(`invalid layer chain ID ${JSON.stringify(chainId)}`);
    return readJsonIfExists<LayerRecord>(path.join(this.layerDir(chainId), 'layer.json'));
  }

  private async createLink(hex: string): Promise<string> {
    for (;;) {
      const id = randomLinkId();
      try {
        await fs.symlink(`../${hex}/diff`, path.join(this.root, LINK_DIR, id));
        return id;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
    }
  }
}

function chainIdOf(parent: Digest | null, diffId: Digest): Digest {
  return parent === null ? diffId : digestOf(`${parent} ${diffId}`);
}

function publicLayer(record: LayerRecord): Layer {
  return { chainId: record.chainId, diffId: record.diffId, parent: record.parent, size: record.size };
}

function randomLinkId(): string {
  const bytes = randomBytes(LINK_ID_LENGTH);
  let id = '';
  for (const byte of bytes) id += BASE32[byte & 31];
  return id;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch (err) {
    if (isENOENT(err)) return false;
    throw err;
  }
}

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}
