import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBerthRegistry, type TestRegistry } from '../../helpers/registry';
import { runCommand } from '../../helpers/cli';
import { httpRequest } from '../../helpers/registry-server';
import { writeOciLayout, type LayoutImage } from '../../helpers/oci-layout';
import { digestOf } from '../../../src/util/digest';

/**
 * `berth registry serve` (the real command, its own process) with skopeo as the client: copy an
 * OCI image in, copy it back out, copy between repositories (cross-mount), list tags, delete.
 */
const SKOPEO = '/usr/bin/skopeo';
const skip = existsSync(SKOPEO) ? false : 'skopeo is not installed (/usr/bin/skopeo)';

let dir: string;
let registry: TestRegistry;
let port: number;
let image: LayoutImage;

function skopeo(args: string[]) {
  return runCommand(SKOPEO, ['--insecure-policy', ...args], { env: { REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') }, timeoutMs: 120_000 });
}

before(async () => {
  if (skip) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bregsk-'));
  image = await writeOciLayout(path.join(dir, 'src'), 'v1', [
    { 'etc/hello': 'hello from berth\n' },
    { 'data/big.bin': randomBytes(3 * 1024 * 1024) },
    { 'data/small.txt': 'x'.repeat(1000) },
  ]);
  registry = await startBerthRegistry();
  port = registry.port;
});

after(async () => {
  if (skip) return;
  await registry?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

test('skopeo copies an image in and back out unchanged', { skip }, async () => {
  const host = `127.0.0.1:${port}`;
  const push = await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${path.join(dir, 'src')}:v1`, `docker://${host}/skopeo/app:v1`]);
  assert.equal(push.code, 0, push.stderr);
  const manifest = await httpRequest(undefined, port, 'GET', '/v2/skopeo/app/manifests/v1', { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers['docker-content-digest'], image.manifestDigest);
  assert.deepEqual(manifest.body, image.manifest);

  const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/skopeo/app:v1`]);
  assert.equal(inspect.code, 0, inspect.stderr);
  const info = JSON.parse(inspect.stdout) as { Digest: string; Layers: string[] };
  assert.equal(info.Digest, image.manifestDigest);
  assert.deepEqual(info.Layers, image.layerDigests);

  const pull = await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/skopeo/app:v1`, `oci:${path.join(dir, 'dst')}:v1`]);
  assert.equal(pull.code, 0, pull.stderr);
  for (const digest of [image.manifestDigest, ...image.layerDigests]) {
    const hex = digest.slice('sha256:'.length);
    const copied = await fs.readFile(path.join(dir, 'dst', 'blobs', 'sha256', hex));
    assert.equal(digestOf(copied), digest);
  }
});

test('skopeo copies between repositories, lists tags and deletes', { skip }, async () => {
  const host = `127.0.0.1:${port}`;
  const first = await skopeo(['copy', '--dest-tls-verify=false', `oci:${path.join(dir, 'src')}:v1`, `docker://${host}/skopeo/base:v1`]);
  assert.equal(first.code, 0, first.stderr);
  const copy = await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/skopeo/base:v1`, `docker://${host}/team/copy:v2`]);
  assert.equal(copy.code, 0, copy.stderr);
  const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/team/copy`]);
  assert.equal(tags.code, 0, tags.stderr);
  assert.deepEqual(JSON.parse(tags.stdout), { Repository: `${host}/team/copy`, Tags: ['v2'] });
  const del = await skopeo(['delete', '--tls-verify=false', `docker://${host}/team/copy:v2`]);
  assert.equal(del.code, 0, del.stderr);
  const gone = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/team/copy:v2`]);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /manifest unknown/);
  const catalog = await httpRequest(undefined, port, 'GET', '/v2/_catalog');
  assert.deepEqual(catalog.json().repositories, ['skopeo/app', 'skopeo/base', 'team/copy']);
});
