import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { digestOf, hexOf, type Digest } from '../../src/util/digest';

/**
 * Writes a small, real OCI image layout (oci-layout, index.json, blobs/sha256) holding one
 * linux/amd64 image whose layers are gzip tars of the given files: a source for skopeo's
 * `oci:<dir>:<tag>` transport that needs no network.
 */
export interface LayoutImage {
  manifestDigest: Digest;
  manifest: Buffer;
  layerDigests: Digest[];
}

/** A tar archive of `files` (regular files, mode 0644, mtime 0). */
export async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    await new Promise<void>((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function writeOciLayout(dir: string, tag: string, layers: Record<string, Buffer | string>[]): Promise<LayoutImage> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  const put = async (data: Buffer): Promise<Digest> => {
    const digest = digestOf(data);
    await fs.writeFile(path.join(blobs, hexOf(digest)), data);
    return digest;
  };
  const layerDescs = [];
  const diffIds: Digest[] = [];
  for (const files of layers) {
    const tar = await tarOf(files);
    diffIds.push(digestOf(tar));
    const gz = gzipSync(tar);
    layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await put(gz), size: gz.length });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await put(config), size: config.length },
      layers: layerDescs,
    }),
  );
  const manifestDigest = await put(manifest);
  await fs.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  return { manifestDigest, manifest, layerDigests: layerDescs.map((l) => l.digest) };
}
