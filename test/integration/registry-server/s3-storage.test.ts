import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCommand } from '../../helpers/cli';
import { httpRequest } from '../../helpers/registry-server';
import { CLI_MAIN } from '../../helpers/test-daemon';
import { writeOciLayout, type LayoutImage } from '../../helpers/oci-layout';
import { berthRegistrySkipReason, startBerthRegistry, type TestRegistry } from '../../helpers/registry';
import { s3ServerSkipReason, startS3Server, type TestS3Server } from '../../helpers/s3-server';
import { S3Driver } from '../../../src/registry/server/storage/s3-driver';

/**
 * `berth registry serve` with `storage: s3:` in its config file, on a real S3-compatible
 * server process (moto_server): skopeo pushes an image and copies it back byte for byte, and
 * the blobs and tags are objects in the bucket, none in the local root.
 */
const SKOPEO = '/usr/bin/skopeo';
const skip = berthRegistrySkipReason() || s3ServerSkipReason() || (!existsSync(SKOPEO) && 'skopeo is not installed') || false;

let dir: string;
let s3: TestS3Server;
let registry: TestRegistry;
let image: LayoutImage;
let config: string;

before(async () => {
  if (skip) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3reg-'));
  s3 = await startS3Server();
  config = path.join(dir, 'serve.yaml');
  await fs.writeFile(config, [
    'storage:',
    '  s3:',
    '    bucket: berth-registry',
    `    regionendpoint: ${s3.endpoint}`,
    '    rootdirectory: /team',
    `    accesskey: ${s3.accessKeyId}`,
    `    secretkey: ${s3.secretAccessKey}`,
    '',
  ].join('\n'));
  registry = await startBerthRegistry({ args: ['--config', config] });
  image = await writeOciLayout(path.join(dir, 'src'), 'v1', [{ 'etc/motd': 'from an object store\n' }, { 'data.bin': Buffer.alloc(3 * 1024 * 1024, 7) }]);
});

after(async () => {
  if (skip) return;
  await registry?.stop();
  await s3?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

test('skopeo pushes to and pulls from a registry stored in an S3-compatible bucket', { skip }, async () => {
  const env = { REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') };
  const push = await runCommand(SKOPEO, ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${path.join(dir, 'src')}:v1`, `docker://${registry.host}/s3/app:v1`], { env, timeoutMs: 120_000 });
  assert.equal(push.code, 0, push.stderr);
  const out = path.join(dir, 'out');
  const pull = await runCommand(SKOPEO, ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${registry.host}/s3/app:v1`, `oci:${out}:v1`], { env, timeoutMs: 120_000 });
  assert.equal(pull.code, 0, pull.stderr);
  const index = JSON.parse(await fs.readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  assert.equal(index.manifests[0]!.digest, image.manifestDigest);
  for (const layer of image.layerDigests) {
    assert.deepEqual(await fs.readFile(path.join(out, 'blobs', 'sha256', layer.slice(7))), await fs.readFile(path.join(dir, 'src', 'blobs', 'sha256', layer.slice(7))));
  }

  // The content is in the bucket, under the prefix; the local root holds no blob.
  const bucket = new S3Driver({ endpoint: s3.endpoint, bucket: 'berth-registry', prefix: 'team', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  try {
    const stored: string[] = [];
    for await (const blob of bucket.listBlobs()) stored.push(blob.digest);
    for (const layer of image.layerDigests) assert.ok(stored.includes(layer), layer);
    assert.ok(stored.includes(image.manifestDigest));
    assert.equal((await bucket.getMetadata('repositories/s3/app/_manifests/tags/v1'))?.toString(), image.manifestDigest);
  } finally {
    bucket.close();
  }
  assert.ok(!existsSync(path.join(registry.storage, 'content')), 'no local content store');
  assert.match(await registry.logs(), /storage s3 http:\/\/127\.0\.0\.1:\d+ bucket berth-registry prefix team\//);
});

test('berth registry gc --config sweeps the bucket: a deleted image\'s blobs go, a tagged one stays', { skip }, async () => {
  const env = { REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') };
  const other = await writeOciLayout(path.join(dir, 'other'), 'v1', [{ 'etc/other': 'to be deleted\n' }]);
  const push = await runCommand(SKOPEO, ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${path.join(dir, 'other')}:v1`, `docker://${registry.host}/s3/gone:v1`], { env, timeoutMs: 120_000 });
  assert.equal(push.code, 0, push.stderr);
  assert.equal((await httpRequest(undefined, registry.port, 'DELETE', `/v2/s3/gone/manifests/${other.manifestDigest}`)).status, 202);
  const gc = await runCommand(CLI_MAIN, ['registry', 'gc', '--config', config, '--root', path.join(dir, 'gc-root'), '--keep-recent', '0s'], { timeoutMs: 120_000 });
  assert.equal(gc.code, 0, gc.stderr);
  const bucket = new S3Driver({ endpoint: s3.endpoint, bucket: 'berth-registry', prefix: 'team', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  try {
    const stored: string[] = [];
    for await (const blob of bucket.listBlobs()) stored.push(blob.digest);
    const own = other.layerDigests.filter((d) => !image.layerDigests.includes(d));
    assert.ok(own.length > 0);
    for (const d of [other.manifestDigest, ...own]) assert.ok(!stored.includes(d), `${d} removed`);
    for (const d of [image.manifestDigest, ...image.layerDigests]) assert.ok(stored.includes(d), `${d} kept`);
    assert.match(gc.stdout, new RegExp(`deleted blob ${other.manifestDigest}`));
  } finally {
    bucket.close();
  }
});
