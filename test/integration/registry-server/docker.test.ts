import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBerthRegistry, type TestRegistry } from '../../helpers/registry';
import { DOCKER_CLIENTS, docker, runCommand } from '../../helpers/cli';
import { privateDockerdSkipReason, startPrivateDockerd, type PrivateDockerd } from '../../helpers/private-dockerd';
import { tarOf, writeOciLayout } from '../../helpers/oci-layout';

/**
 * Real dockerd (private, in its own network namespace) pushing to and pulling from
 * `berth registry serve`, which is forwarded into that namespace so that 127.0.0.1:<port> is the
 * registry for both (docker treats loopback registries as insecure: plain HTTP).
 */
const skip = privateDockerdSkipReason() ?? (DOCKER_CLIENTS.length === 0 ? 'no docker CLI' : false);
const client = DOCKER_CLIENTS[0]!;

let dir: string;
let dockerd: PrivateDockerd;
let registry: TestRegistry;
let port: number;

before(async () => {
  if (skip) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bregdk-'));
  dockerd = await startPrivateDockerd();
  registry = await startBerthRegistry();
  await registry.exposeIn(dockerd.netns);
  port = registry.port;
});

after(async () => {
  if (skip) return;
  await registry?.stop();
  await dockerd?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

test('dockerd pushes an image to berth\'s registry and pulls it back with the same digest', { skip }, async () => {
  const ref = `127.0.0.1:${port}/dock/app:v1`;
  const rootfs = await tarOf({ 'hello.txt': 'hello\n', 'data.bin': randomBytes(2 * 1024 * 1024) });
  const imported = await docker(client, dockerd.host, ['import', '-', ref], { input: rootfs });
  assert.equal(imported.code, 0, imported.stderr);
  const push = await docker(client, dockerd.host, ['push', ref], { timeoutMs: 120_000 });
  assert.equal(push.code, 0, push.stderr + push.stdout);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
  assert.ok(digest, push.stdout);
  // The tag in storage names what docker reported.
  const tagFile = path.join(registry.storage, 'metadata', 'repositories', 'dock', 'app', '_manifests', 'tags', 'v1');
  assert.equal(await fs.readFile(tagFile, 'utf8'), digest);
  // A second push finds every layer present.
  const again = await docker(client, dockerd.host, ['push', ref], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Layer already exists/);

  assert.equal((await docker(client, dockerd.host, ['rmi', ref])).code, 0);
  const pull = await docker(client, dockerd.host, ['pull', ref], { timeoutMs: 120_000 });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  const inspect = await docker(client, dockerd.host, ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
  assert.deepEqual(JSON.parse(inspect.stdout), [`127.0.0.1:${port}/dock/app@${digest}`]);
});

test('dockerd pulls an OCI image that skopeo pushed, and a missing tag fails with the registry\'s message', { skip: skip || (!existsSync('/usr/bin/skopeo') && 'skopeo is not installed') }, async () => {
  const layout = path.join(dir, 'layout');
  const image = await writeOciLayout(layout, 'v1', [{ 'etc/motd': 'from skopeo\n' }]);
  const pushed = await runCommand('/usr/bin/skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://127.0.0.1:${port}/dock/oci:v1`], { env: { REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') }, timeoutMs: 60_000 });
  assert.equal(pushed.code, 0, pushed.stderr);
  const pull = await docker(client, dockerd.host, ['pull', `127.0.0.1:${port}/dock/oci:v1`], { timeoutMs: 60_000 });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, new RegExp(`Digest: ${image.manifestDigest}`));
  const missing = await docker(client, dockerd.host, ['pull', `127.0.0.1:${port}/dock/oci:nope`], { timeoutMs: 60_000 });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /manifest unknown/);
});
