import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../../src/registry/client/hosts';
import { RegistryError } from '../../../src/registry/client/errors';
import { parseDockerRef } from '../../../src/images/reference';
import { digestOf } from '../../../src/util/digest';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { distributionRegistrySkipReason, freePort, startDistributionRegistry, type TestRegistry } from '../../helpers/registry';
import { indexOf, memoryImage, pushMemoryImage, putManifest } from '../../helpers/registry-image';
import { startTokenServer, type TokenServer } from '../../helpers/token-server';

/**
 * The registry client against Debian's docker-registry (distribution 2.8) on loopback:
 * anonymous, htpasswd Basic auth, and Docker token auth with a token server of the test's own.
 */
const skip = distributionRegistrySkipReason() ?? false;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('registry client against an open docker-registry', { skip }, () => {
  let registry: TestRegistry;
  const client = new RegistryClient();
  before(async () => {
    registry = await startDistributionRegistry();
  });
  after(async () => {
    client.close();
    await registry?.stop();
  });

  test('push with raw requests, then resolve by tag and by digest, Range-read a blob, list tags', async () => {
    const image = await memoryImage({ docker: true, bytes: 4096 });
    const ref = parseDockerRef(`${registry.host}/team/app:v1`);
    const pusher = client.session(ref, { actions: ['pull', 'push'] });
    await pushMemoryImage(pusher, image, 'v1');
    await pushMemoryImage(pusher, image, 'v2');

    const resolved = await client.session(ref).resolve();
    assert.equal(resolved.digest, image.manifestDesc.digest);
    assert.equal(resolved.root.descriptor.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(resolved.manifest.bytes, image.manifest);
    assert.deepEqual(resolved.config.bytes, image.config);
    assert.deepEqual(resolved.config.config.rootfs.diff_ids, [image.diffId]);
    assert.deepEqual(resolved.platform, { os: 'linux', architecture: 'amd64' });

    const byDigest = await client.session(parseDockerRef(`${registry.host}/team/app@${image.manifestDesc.digest}`)).resolve();
    assert.equal(byDigest.digest, image.manifestDesc.digest);

    const session = client.session(ref);
    const whole = await session.openBlob(image.layerDesc);
    assert.equal(whole.offset, 0);
    assert.deepEqual(await readAll(whole.stream), image.layer);
    const tail = await session.openBlob(image.layerDesc, { offset: 100 });
    assert.equal(tail.offset, 100);
    assert.deepEqual(await readAll(tail.stream), image.layer.subarray(100));

    assert.equal(await session.hasBlob(image.layerDesc.digest), true);
    assert.equal(await session.hasBlob(digestOf('not there')), false);
    assert.deepEqual((await session.listTags()).sort(), ['v1', 'v2']);
  });

  test('an index: linux/amd64 by default, --platform picks another, a missing platform is named', async () => {
    const amd = await memoryImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await memoryImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const ref = parseDockerRef(`${registry.host}/multi:latest`);
    const pusher = client.session(ref, { actions: ['pull', 'push'] });
    await pushMemoryImage(pusher, amd, amd.manifestDesc.digest);
    await pushMemoryImage(pusher, arm, arm.manifestDesc.digest);
    const index = indexOf([arm, amd]);
    await putManifest(pusher, 'latest', index.bytes, index.mediaType);

    const session = client.session(ref);
    const chosen = await session.resolve();
    assert.equal(chosen.digest, digestOf(index.bytes), 'RepoDigest is the index digest');
    assert.equal(chosen.manifest.descriptor.digest, amd.manifestDesc.digest);
    const armChosen = await session.resolve({ os: 'linux', architecture: 'aarch64' });
    assert.equal(armChosen.manifest.descriptor.digest, arm.manifestDesc.digest);
    assert.equal(armChosen.platform.architecture, 'arm64');
    await assert.rejects(session.resolve({ os: 'linux', architecture: 's390x' }), /no matching manifest for linux\/s390x in the manifest list entries/);
  });

  test('a missing tag: docker\'s "manifest for ... not found: manifest unknown"', async () => {
    const err = await client.session(parseDockerRef(`${registry.host}/nothing:here`)).resolve().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.kind, 'NotFound');
    assert.match(err.message, new RegExp(`^manifest for ${registry.host}/nothing:here not found: manifest unknown: manifest unknown`));
  });

  test('a registry that is down: the message names the URL and the refused connection', async () => {
    const port = await freePort();
    const err = await client.session(parseDockerRef(`127.0.0.1:${port}/app`)).resolve().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.message, `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`);
  });
});

describe('registry client with a docker.io mirror on loopback', { skip }, () => {
  let mirror: TestRegistry;
  before(async () => {
    mirror = await startDistributionRegistry();
  });
  after(async () => {
    await mirror?.stop();
  });

  test('busybox resolves through the mirror; a mirror that is down is skipped for the next', async () => {
    const image = await memoryImage();
    const seed = new RegistryClient();
    await pushMemoryImage(seed.session(parseDockerRef(`${mirror.host}/library/busybox:latest`), { actions: ['pull', 'push'] }), image, 'latest');
    seed.close();
    const downPort = await freePort();
    const client = new RegistryClient({ mirrors: [`http://127.0.0.1:${downPort}`, mirror.url], insecureRegistries: [] });
    try {
      const session = client.session(parseDockerRef('busybox'));
      const resolved = await session.resolve();
      assert.equal(resolved.digest, image.manifestDesc.digest);
      assert.equal(resolved.ref.domain, 'docker.io');
      const blob = await session.openBlob(image.layerDesc);
      assert.deepEqual(await readAll(blob.stream), image.layer);
    } finally {
      client.close();
    }
  });
});

describe('registry client over TLS with a self-signed certificate (a loopback registry is insecure)', { skip }, () => {
  let registry: TestRegistry;
  let proxy: https.Server;
  let dir: string;
  const seen: string[] = [];
  before(async () => {
    registry = await startDistributionRegistry();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-tls-'));
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    // A TLS front for the registry: what a registry with its own certificate looks like.
    proxy = https.createServer({ key: await fs.readFile(path.join(dir, 'key.pem')), cert: await fs.readFile(path.join(dir, 'cert.pem')) }, (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const upstream = http.request({ host: '127.0.0.1', port: registry.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-proto': 'https' } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    proxy?.closeAllConnections();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await registry?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('https is tried first and used, without verifying the certificate', async () => {
    const tlsHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const client = new RegistryClient();
    try {
      const image = await memoryImage();
      await pushMemoryImage(client.session(parseDockerRef(`${tlsHost}/tls/app:1`), { actions: ['pull', 'push'] }), image, '1');
      const resolved = await client.session(parseDockerRef(`${tlsHost}/tls/app:1`)).resolve();
      assert.equal(resolved.digest, image.manifestDesc.digest);
      assert.ok(seen.includes('GET /v2/tls/app/manifests/1'), seen.join('\n'));
    } finally {
      client.close();
    }
  });
});

describe('registry client against docker-registry with htpasswd (Basic)', { skip }, () => {
  let registry: TestRegistry;
  const client = new RegistryClient();
  before(async () => {
    registry = await startDistributionRegistry({ users: [{ username: 'alice', password: 's3cret' }] });
  });
  after(async () => {
    client.close();
    await registry?.stop();
  });

  test('push and pull with credentials; without them a 401 naming the registry', async () => {
    const image = await memoryImage();
    const ref = parseDockerRef(`${registry.host}/private/app:1`);
    await pushMemoryImage(client.session(ref, { actions: ['pull', 'push'], auth: { username: 'alice', password: 's3cret' } }), image, '1');
    const resolved = await client.session(ref, { auth: { username: 'alice', password: 's3cret' } }).resolve();
    assert.equal(resolved.digest, image.manifestDesc.digest);

    const err = await client.session(ref).resolve().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.kind, 'Unauthorized');
    assert.equal(err.status, 401);
    assert.match(err.message, /unauthorized: authentication required/);
  });

  test('login: good credentials pass, bad ones fail as dockerd words it', async () => {
    assert.deepEqual(await client.login(registry.host, { username: 'alice', password: 's3cret' }), { identityToken: '' });
    await assert.rejects(
      client.login(`http://${registry.host}/`, { username: 'alice', password: 'wrong' }),
      (err: unknown) => err instanceof RegistryError && err.kind === 'Unauthorized' && err.message === `login attempt to http://${registry.host}/v2/ failed with status: 401 Unauthorized`,
    );
  });
});

describe('registry client against docker-registry with token auth', { skip }, () => {
  let registry: TestRegistry;
  let tokens: TokenServer;
  let certDir: string | undefined;
  const client = new RegistryClient();
  before(async () => {
    tokens = await startTokenServer({
      users: { alice: 'pw' },
      refreshTokens: true,
      grant: (user, repo, actions) => (user === 'alice' ? actions : repo.startsWith('public/') ? actions.filter((a) => a === 'pull') : []),
    });
    certDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-token-ca-'));
    await fs.writeFile(path.join(certDir, 'ca.pem'), tokens.certPem);
    registry = await startDistributionRegistry({
      config: { auth: { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: path.join(certDir, 'ca.pem') } } },
    });
  });
  after(async () => {
    client.close();
    await registry?.stop();
    await tokens?.stop();
    if (certDir) await fs.rm(certDir, { recursive: true, force: true });
  });

  test('push as a user with pull,push scope; anonymous pull where granted; refused where not', async () => {
    const image = await memoryImage();
    const auth = { username: 'alice', password: 'pw' };
    for (const repo of ['public/app', 'private/app']) {
      await pushMemoryImage(client.session(parseDockerRef(`${registry.host}/${repo}:1`), { actions: ['pull', 'push'], auth }), image, '1');
    }
    assert.ok(tokens.requests.some((r) => r.user === 'alice' && r.account === 'alice' && r.scopes.includes('repository:private/app:pull,push')), JSON.stringify(tokens.requests));

    const anon = await client.session(parseDockerRef(`${registry.host}/public/app:1`)).resolve();
    assert.equal(anon.digest, image.manifestDesc.digest);
    assert.ok(tokens.requests.some((r) => r.user === undefined && r.scopes.includes('repository:public/app:pull')));

    const err = await client.session(parseDockerRef(`${registry.host}/private/app:1`)).resolve().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.status, 401);
    assert.match(err.message, /unauthorized: authentication required/);
  });

  test('parallel requests of one session share one token', async () => {
    const session = client.session(parseDockerRef(`${registry.host}/public/app:1`));
    const before = tokens.requests.length;
    const found = await Promise.all(Array.from({ length: 6 }, (_, i) => session.hasBlob(digestOf(`blob ${i}`))));
    assert.deepEqual(found, [false, false, false, false, false, false]);
    assert.equal(tokens.requests.length - before, 1);
  });

  test('a wrong password: the token server\'s reason, with the request it was for', async () => {
    const err = await client
      .session(parseDockerRef(`${registry.host}/private/app:1`), { auth: { username: 'alice', password: 'nope' } })
      .resolve()
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.kind, 'Unauthorized');
    assert.equal(err.message, `Get "http://${registry.host}/v2/private/app/manifests/1": unauthorized: incorrect username or password`);
  });

  test('login gives an identity token; a session with it alone (OAuth refresh) pulls', async () => {
    const { identityToken } = await client.login(registry.host, { username: 'alice', password: 'pw' });
    assert.notEqual(identityToken, '');
    const resolved = await client.session(parseDockerRef(`${registry.host}/private/app:1`), { auth: { identityToken } }).resolve();
    assert.equal(resolved.manifest.manifest.layers.length, 1);
    const post = tokens.requests.find((r) => r.method === 'POST');
    assert.equal(post?.form?.grant_type, 'refresh_token');
    assert.equal(post?.form?.scope, 'repository:private/app:pull');
  });

  test('a garbage token answer names the registry and the token server', async () => {
    tokens.answer = () => ({ status: 200, body: '<html>oops' });
    try {
      const err = await client.session(parseDockerRef(`${registry.host}/public/app:1`)).resolve().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof RegistryError, String(err));
      assert.match(err.message, new RegExp(`^registry ${registry.host} answered badly: Get "http://${registry.host}/v2/public/app/manifests/1": the token server sent invalid JSON`));
    } finally {
      tokens.answer = undefined;
    }
  });
});
