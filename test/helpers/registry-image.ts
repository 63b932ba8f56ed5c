import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { MediaTypes } from '../../src/images/media-types';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../../src/images/models';
import type { RegistrySession } from '../../src/registry/client/types';
import { digestOf, type Digest } from '../../src/util/digest';

/** A small image built in memory: one gzip layer with one file, its config and its manifest. */
export interface MemoryImage {
  layer: Buffer;
  layerDesc: Descriptor;
  diffId: Digest;
  config: Buffer;
  configDesc: Descriptor;
  manifest: Buffer;
  manifestDesc: Descriptor;
  platform: Platform;
}

async function tarOf(name: string, content: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name, size: content.length, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function memoryImage(opts: { platform?: Platform; docker?: boolean; bytes?: number } = {}): Promise<MemoryImage> {
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const raw = await tarOf('hello.txt', randomBytes(opts.bytes ?? 1024));
  const layer = gzipSync(raw);
  const diffId = digestOf(raw);
  const layerDesc: Descriptor = { mediaType: opts.docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip, digest: digestOf(layer), size: layer.length };
  const cfg: ImageConfig = { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}), config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] } };
  const config = Buffer.from(JSON.stringify(cfg));
  const configDesc: Descriptor = { mediaType: opts.docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, digest: digestOf(config), size: config.length };
  const m: ImageManifest = { schemaVersion: 2, mediaType: opts.docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest, config: configDesc, layers: [layerDesc] };
  const manifest = Buffer.from(JSON.stringify(m));
  const manifestDesc: Descriptor = { mediaType: m.mediaType!, digest: digestOf(manifest), size: manifest.length };
  return { layer, layerDesc, diffId, config, configDesc, manifest, manifestDesc, platform };
}

/** Uploads one blob monolithically (POST, then PUT ?digest=), as the distribution spec describes. */
export async function uploadBlob(session: RegistrySession, data: Buffer, digest: Digest): Promise<void> {
  const start = await session.request({ method: 'POST', path: 'blobs/uploads/', body: Buffer.alloc(0) });
  await start.discard();
  const location = String(start.headers.location);
  const url = new URL(location, start.url);
  url.searchParams.set('digest', digest);
  const done = await session.request({ method: 'PUT', path: url.href, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  await done.discard();
}

export async function putManifest(session: RegistrySession, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const res = await session.request({ method: 'PUT', path: `manifests/${reference}`, body: bytes, headers: { 'Content-Type': mediaType } });
  await res.discard();
}

/** Pushes a memory image's blobs and manifest under `tag`. */
export async function pushMemoryImage(session: RegistrySession, image: MemoryImage, tag: string): Promise<void> {
  await uploadBlob(session, image.layer, image.layerDesc.digest);
  await uploadBlob(session, image.config, image.configDesc.digest);
  await putManifest(session, tag, image.manifest, image.manifestDesc.mediaType);
}

/** An index over memory images (already pushed), with their platforms. */
export function indexOf(images: MemoryImage[], docker = false): { bytes: Buffer; mediaType: string } {
  const mediaType = docker ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const doc = { schemaVersion: 2, mediaType, manifests: images.map((i) => ({ ...i.manifestDesc, platform: i.platform })) };
  return { bytes: Buffer.from(JSON.stringify(doc)), mediaType };
}
