import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { busyboxLayer, BUSYBOX_EPOCH, DEFAULT_PATH } from '../../src/images/bootstrap';
import { runCommand } from './cli';

/**
 * Test images written straight to disk as an OCI image layout (and, for `docker load`, a
 * docker-save archive), made without any engine or registry so every peer can start from the
 * same bytes:
 *  - `busybox`: the layer `berth image bootstrap busybox` makes (same diff tar, so the same
 *    diffID), with its config;
 *  - `big`: busybox plus layers of incompressible (AES-CTR keystream) data, ~110 MB in 3
 *    layers by default, for the registry benchmarks and the interop pulls.
 * The data is deterministic: the same options give the same digests on every run.
 */
export type LayerCompression = 'gzip' | 'zstd' | 'none';
export type ManifestFormat = 'oci' | 'docker';

export interface FixtureOptions {
  /** Sizes in bytes of the data layers on top of busybox; [] is busybox alone. */
  dataLayers?: number[];
  compression?: LayerCompression;
  /** OCI image manifest (default) or Docker schema 2. */
  format?: ManifestFormat;
  /** The ref name recorded in index.json (`org.opencontainers.image.ref.name`). Default 'latest'. */
  tag?: string;
  /** Seeds the data layers' content; another seed gives other digests. */
  seed?: string;
}

export interface FixtureLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
}

export interface FixtureImage {
  /** The OCI layout directory (oci-layout, index.json, blobs/sha256/…). */
  layout: string;
  tag: string;
  /** `oci:<layout>:<tag>` for skopeo. */
  skopeoRef: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  configDigest: string;
  /** The image ID docker and berth show: the config digest. */
  imageId: string;
  layers: FixtureLayer[];
  /** Sum of the compressed layer sizes. */
  totalLayerBytes: number;
  /** Reads a blob of the layout. */
  blob(digest: string): Promise<Buffer>;
}

/** ~110 MB in 3 layers: busybox (~1 MB) and two of 54.5 MB. */
export const BIG_IMAGE_LAYERS = [54_500_000, 54_500_000];

const MEDIA = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' },
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    // Docker schema 2 has no zstd media type; docker itself writes the OCI one inside a schema 2 manifest.
    layer: { gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.docker.image.rootfs.diff.tar' },
  },
} as const;

/** Writes the fixture image as an OCI layout into `dir` (created if missing). */
export async function makeFixtureImage(dir: string, options: FixtureOptions = {}): Promise<FixtureImage> {
  const compression = options.compression ?? 'gzip';
  const format = options.format ?? 'oci';
  const tag = options.tag ?? 'latest';
  const seed = options.seed ?? 'berth-fixture';
  const media = MEDIA[format];
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });

  const busybox = await busyboxApplets();
  // Random data does not compress: gzip level 0 (stored blocks) makes the same sizes as
  // docker's gzip would, several times faster on a loaded machine.
  const sources: Array<{ tar: () => Readable; gzipLevel: number }> = [{ tar: () => busyboxLayer(busybox.binary, busybox.applets), gzipLevel: 6 }];
  (options.dataLayers ?? []).forEach((size, i) => sources.push({ tar: () => dataLayerTar(`${seed}/${i}`, `data/layer-${i}.bin`, size), gzipLevel: 0 }));
  const layers = await Promise.all(sources.map((s) => writeLayer(blobs, s.tar(), compressor(compression, s.gzipLevel), media.layer[compression])));

  const config = {
    created: BUSYBOX_EPOCH,
    architecture: 'amd64',
    os: 'linux',
    config: { Env: [DEFAULT_PATH], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: BUSYBOX_EPOCH, created_by: i === 0 ? 'berth bootstrap: busybox' : `fixture data layer ${i}` })),
  };
  const configBlob = await writeBlob(blobs, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: media.manifest,
    config: { mediaType: media.config, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBlob = await writeBlob(blobs, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: media.manifest, digest: manifestBlob.digest, size: manifestBlob.size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await fs.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  return {
    layout: dir,
    tag,
    skopeoRef: `oci:${dir}:${tag}`,
    manifestDigest: manifestBlob.digest,
    manifestMediaType: media.manifest,
    manifestSize: manifestBlob.size,
    configDigest: configBlob.digest,
    imageId: configBlob.digest,
    layers,
    totalLayerBytes: layers.reduce((sum, l) => sum + l.size, 0),
    blob: (digest) => fs.readFile(path.join(blobs, digest.replace(/^sha256:/, ''))),
  };
}

/**
 * Writes the image as a `docker save` archive (manifest.json, the config, one file per
 * layer as stored: docker load decompresses gzip layers itself) for `docker load` or
 * `POST /images/load`, tagged `repoTag`.
 */
export async function writeDockerArchive(image: FixtureImage, file: string, repoTag: string): Promise<void> {
  if (image.layers.some((l) => l.mediaType.endsWith('zstd'))) throw new Error('docker 20.10 cannot load zstd layers: write the fixture with gzip or none');
  const pack = tarStream.pack();
  const done = pipeline(pack, createWriteStream(file));
  const hex = (d: string) => d.replace(/^sha256:/, '');
  const configName = `${hex(image.configDigest)}.json`;
  const layerNames = image.layers.map((l) => `${hex(l.digest)}/layer.tar`);
  const manifest = [{ Config: configName, RepoTags: [repoTag], Layers: layerNames }];
  const addFile = (name: string, data: Buffer) => new Promise<void>((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())));
  await addFile(configName, await image.blob(image.configDigest));
  for (const [i, layer] of image.layers.entries()) {
    const entry = pack.entry({ name: layerNames[i]!, size: layer.size, mode: 0o644 }) as unknown as Writable;
    await pipeline(Readable.from([await image.blob(layer.digest)]), entry);
  }
  await addFile('manifest.json', Buffer.from(JSON.stringify(manifest)));
  pack.finalize();
  await done;
}

async function busyboxApplets(): Promise<{ binary: Buffer; applets: string[] }> {
  const binary = await fs.readFile('/bin/busybox');
  const list = await runCommand('/bin/busybox', ['--list-full']);
  if (list.code !== 0) throw new Error(`/bin/busybox --list-full failed: ${list.stderr}`);
  const applets = [...new Set(list.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'bin/busybox'))].sort();
  return { binary, applets };
}

/** A tar with one file of `size` bytes of AES-256-CTR keystream keyed by `seed`: fast, incompressible, repeatable. */
function dataLayerTar(seed: string, name: string, size: number): Readable {
  const pack = tarStream.pack();
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const entry = pack.entry({ name, size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(BUSYBOX_EPOCH) }) as unknown as Writable;
  const zeros = Buffer.alloc(1 << 20);
  void (async () => {
    try {
      for (let left = size; left > 0; left -= zeros.length) {
        const chunk = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
        if (!entry.write(chunk)) await once(entry, 'drain');
      }
      entry.end();
      await once(entry, 'finish');
      pack.finalize();
    } catch (err: unknown) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

function digestingPassThrough(): { stream: Transform; result: () => { digest: string; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, result: () => ({ digest: `sha256:${hash.digest('hex')}`, size }) };
}

async function writeLayer(blobs: string, tar: Readable, compress: Transform, mediaType: string): Promise<FixtureLayer> {
  const tmp = path.join(blobs, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const uncompressed = digestingPassThrough();
  const compressed = digestingPassThrough();
  try {
    await pipeline(tar, uncompressed.stream, compress, compressed.stream, createWriteStream(tmp));
    const raw = uncompressed.result();
    const blob = compressed.result();
    await fs.rename(tmp, path.join(blobs, blob.digest.slice('sha256:'.length)));
    return { mediaType, digest: blob.digest, size: blob.size, diffId: raw.digest, uncompressedSize: raw.size };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

function compressor(compression: LayerCompression, gzipLevel: number): Transform {
  if (compression === 'gzip') return zlib.createGzip({ level: gzipLevel });
  if (compression === 'none') return new PassThrough();
  if (!existsSync('/usr/bin/zstd')) throw new Error('zstd layers need /usr/bin/zstd');
  const child = spawn('/usr/bin/zstd', ['-q', '-1', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  // A duplex over the child's stdin/stdout.
  const duplex = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once('drain', () => cb());
    },
    flush(cb) {
      child.once('close', (code) => cb(code === 0 ? null : new Error(`zstd exited with ${code}`)));
      child.stdin.end();
    },
  });
  child.stdout.on('data', (c: Buffer) => duplex.push(c));
  child.on('error', (err) => duplex.destroy(err));
  return duplex;
}

async function writeBlob(blobs: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  await fs.writeFile(path.join(blobs, digest.slice('sha256:'.length)), data);
  return { digest, size: data.length };
}
