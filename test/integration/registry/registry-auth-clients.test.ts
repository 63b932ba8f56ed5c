import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import { makeFixtureImage, writeDockerArchive, type FixtureImage } from '../../helpers/fixture-image';
import { podmanSkipReason, podmanWithRegistry } from '../../helpers/podman';
import { privateDockerdSkipReason, startPrivateDockerd, type PrivateDockerd } from '../../helpers/private-dockerd';
import { berthRegistrySkipReason, htpasswdLine, startBerthRegistry, type TestRegistry } from '../../helpers/registry';
import { needsRoot } from '../../helpers/root';
import { mustSucceed, skopeo, skopeoCopy, skopeoInspect, skopeoSkipReason } from '../../helpers/skopeo';
import { waitFor } from '../../helpers/wait';

/**
 * `berth registry serve` with users, access rules and webhooks, against the real clients:
 * skopeo, docker (CLI 28 through a private dockerd, which logs in and pulls from its own
 * network namespace) and podman log in through Docker's token auth, get 403 DENIED where the
 * rules say no, pull anonymously where they allow it, and every push and delete reaches the
 * webhooks (one JSON, one Slack-style, configured in a --config file).
 */

const ALICE = { username: 'alice', password: 'alice-pass-1' };
const BOB = { username: 'bob', password: 'bob-pass-2' };
const ACCESS = `
rules:
  - repository: "team-a/**"
    pull: [alice, bob]
    push: [alice]
    delete: [alice]
  - repository: "public/*"
    pull: ["*"]
    push: [alice]
    anonymousPull: true
`;
const DENIED = /denied: requested access to the resource is denied/;

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A webhook receiver on 127.0.0.1 that records every POST (the registry runs on the host's loopback). */
async function startReceiver() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { received, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('berth registry serve with auth, against skopeo, docker and podman', { skip: needsRoot() || berthRegistrySkipReason() || skopeoSkipReason() || false }, () => {
  let tmp: string;
  let image: FixtureImage;
  let registry: TestRegistry;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  const events = (p: string) => hooks.received.filter((r) => r.path === p).map((r) => r.body);

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rac-'));
    image = await makeFixtureImage(path.join(tmp, 'layout'), { dataLayers: [300_000] });
    hooks = await startReceiver();
    const config = path.join(tmp, 'registry.yaml');
    await fs.writeFile(config, [
      'webhooks:',
      `  - url: ${hooks.url}/json`,
      `  - url: ${hooks.url}/slack`,
      '    template: slack',
      '    actions: [push]',
      'auth:',
      '  token:',
      '    service: berth-test-registry',
      '',
    ].join('\n'));
    registry = await startBerthRegistry({ users: [ALICE, BOB], access: ACCESS, args: ['--config', config] });
  });
  after(async () => {
    await registry?.stop();
    await hooks?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('the base endpoint challenges with the token realm', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${registry.url}/token",service="berth-test-registry"`);
    assert.deepEqual(await res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
  });

  test('skopeo: login, 403 DENIED for a pull-only user, push, anonymous pull, delete; webhooks see each change', async () => {
    const authFile = path.join(tmp, 'skopeo-auth.json');
    const login = (user: { username: string; password: string }) =>
      skopeo(['login', '--tls-verify=false', '--authfile', authFile, '-u', user.username, '--password-stdin', registry.host], { input: user.password });
    const wrong = await skopeo(['login', '--tls-verify=false', '--authfile', authFile, '-u', 'bob', '--password-stdin', registry.host], { input: 'nope' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /invalid username\/password/);
    mustSucceed(await login(BOB), 'skopeo login bob');
    const denied = await skopeoCopy(image.skopeoRef, `docker://${registry.host}/team-a/app:1`, { authFile });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, DENIED);
    mustSucceed(await login(ALICE), 'skopeo login alice');
    mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/team-a/app:1`, { authFile }), 'skopeo copy as alice');
    mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/public/app:1`, { authFile }), 'skopeo copy to public');
    // bob may pull team-a; anonymous may pull public only.
    const asBob = await skopeoInspect(`docker://${registry.host}/team-a/app:1`, { creds: `${BOB.username}:${BOB.password}` });
    assert.equal(asBob.Digest, image.manifestDigest);
    const anonymous = await skopeoInspect(`docker://${registry.host}/public/app:1`);
    assert.equal(anonymous.Digest, image.manifestDigest);
    mustSucceed(await skopeoCopy(`docker://${registry.host}/public/app:1`, `oci:${path.join(tmp, 'anon-copy')}:x`), 'anonymous skopeo copy from public');
    await assert.rejects(skopeoInspect(`docker://${registry.host}/team-a/app:1`), /unauthorized: authentication required/);
    // Delete: bob is denied, alice may.
    const bobDelete = await skopeo(['delete', '--tls-verify=false', '--creds', `${BOB.username}:${BOB.password}`, `docker://${registry.host}/team-a/app@${image.manifestDigest}`]);
    assert.notEqual(bobDelete.code, 0);
    assert.match(bobDelete.stderr, /DENIED.{1,8}message.{1,8}requested access to the resource is denied.*\(403 Forbidden\)/);
    mustSucceed(await skopeo(['delete', '--tls-verify=false', '--authfile', authFile, `docker://${registry.host}/team-a/app@${image.manifestDigest}`]), 'skopeo delete as alice');

    await waitFor(() => events('/json').length >= 3, 20_000, 'three webhook events');
    const json = events('/json');
    assert.deepEqual(json.map((e) => [e.action, e.repository, e.tag ?? null, e.actor]), [
      ['push', 'team-a/app', '1', 'alice'],
      ['push', 'public/app', '1', 'alice'],
      ['delete', 'team-a/app', null, 'alice'],
    ]);
    for (const e of json) {
      assert.equal(e.digest, image.manifestDigest);
      assert.equal(e.registry, registry.host);
      assert.ok(!Number.isNaN(Date.parse(String(e.time))));
    }
    assert.equal(json[0].size, image.manifestSize);
    assert.equal(json[0].mediaType, image.manifestMediaType);
    await waitFor(() => events('/slack').length >= 2, 20_000, 'two slack events');
    assert.ok(image.manifestSize < 1000, 'a manifest under 1 kB is shown in bytes');
    assert.deepEqual(events('/slack'), [
      { text: `alice pushed \`${registry.host}/team-a/app:1\` (${image.manifestDigest.slice(0, 19)}, ${image.manifestSize} B)` },
      { text: `alice pushed \`${registry.host}/public/app:1\` (${image.manifestDigest.slice(0, 19)}, ${image.manifestSize} B)` },
    ]);
  });

  describe('docker CLI through a private dockerd', { skip: privateDockerdSkipReason() ?? false }, () => {
    let dockerd: PrivateDockerd;
    let dockerConfig: string;
    const docker = (args: string[], input?: string) =>
      runCommand(DOCKER_CLIENTS[0]!, ['-H', dockerd.host, ...args], { input, env: { DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' }, timeoutMs: 180_000 });
    const login = (user: { username: string; password: string }) => docker(['login', '-u', user.username, '--password-stdin', registry.host], user.password);
    before(async () => {
      dockerConfig = path.join(tmp, 'docker-config');
      await fs.mkdir(dockerConfig);
      dockerd = await startPrivateDockerd();
      await registry.exposeIn(dockerd.netns);
      const archive = path.join(tmp, 'fixture.tar');
      await writeDockerArchive(image, archive, 'fixture/app:latest');
      const load = await docker(['load', '-i', archive]);
      assert.equal(load.code, 0, load.stderr);
    });
    after(async () => {
      await dockerd?.stop();
    });

    test('login, push denied then allowed, pull and run as another user, anonymous pull of a public repository', async () => {
      const wrong = await login({ username: 'alice', password: 'wrong' });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /unauthorized/);
      const bob = await login(BOB);
      assert.equal(bob.code, 0, bob.stderr);
      assert.match(bob.stdout, /Login Succeeded/);
      assert.equal((await docker(['tag', 'fixture/app:latest', `${registry.host}/team-a/web:2`])).code, 0);
      const denied = await docker(['push', `${registry.host}/team-a/web:2`]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, DENIED);

      assert.equal((await login(ALICE)).code, 0);
      // berth's token server gave dockerd a refresh token: the CLI keeps it, not the password.
      const stored = await fs.readFile(path.join(dockerConfig, 'config.json'), 'utf8');
      const entry = (JSON.parse(stored) as { auths: Record<string, { identitytoken?: string }> }).auths[registry.host];
      assert.ok(entry?.identitytoken, stored);
      assert.ok(!stored.includes(Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')), 'no password in config.json');
      const push = await docker(['push', `${registry.host}/team-a/web:2`]);
      assert.equal(push.code, 0, push.stderr);
      const pushed = await skopeoInspect(`docker://${registry.host}/team-a/web:2`, { config: true, creds: `${ALICE.username}:${ALICE.password}` });
      assert.deepEqual((pushed.rootfs as { diff_ids: string[] }).diff_ids, image.layers.map((l) => l.diffId));
      assert.equal((await docker(['tag', 'fixture/app:latest', `${registry.host}/public/web:2`])).code, 0);
      assert.equal((await docker(['push', `${registry.host}/public/web:2`])).code, 0);

      // bob pulls and runs what alice pushed.
      assert.equal((await docker(['rmi', `${registry.host}/team-a/web:2`, `${registry.host}/public/web:2`, 'fixture/app:latest'])).code, 0);
      assert.equal((await login(BOB)).code, 0);
      const pull = await docker(['pull', `${registry.host}/team-a/web:2`]);
      assert.equal(pull.code, 0, pull.stderr);
      const run = await docker(['run', '--rm', '--network', 'none', `${registry.host}/team-a/web:2`, 'sh', '-c', 'wc -c < /data/layer-0.bin']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), '300000');

      // Logged out: public pulls, team-a asks for a login.
      assert.equal((await docker(['logout', registry.host])).code, 0);
      const anonymous = await docker(['pull', `${registry.host}/public/web:2`]);
      assert.equal(anonymous.code, 0, anonymous.stderr);
      const closed = await docker(['pull', `${registry.host}/team-a/other:1`]);
      assert.notEqual(closed.code, 0);
      // dockerd words a refused pull as it does for Docker Hub.
      assert.match(closed.stderr, /pull access denied for 127\.0\.0\.1:\d+\/team-a\/other, repository does not exist or may require 'docker login'/);

      await waitFor(() => events('/json').some((e) => e.repository === 'public/web'), 20_000, 'the webhook event of docker push');
      assert.ok(events('/json').some((e) => e.repository === 'team-a/web' && e.tag === '2' && e.actor === 'alice' && e.action === 'push'));
    });
  });

  describe('podman', { skip: podmanSkipReason() ?? false }, () => {
    const podman = podmanWithRegistry(() => registry);

    test('login with the token flow, a wrong password refused, pull as a pull-only user', async () => {
      mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/team-a/pod:3`, { creds: `${ALICE.username}:${ALICE.password}` }), 'skopeo copy');
      const wrong = await podman().podman(['login', '--tls-verify=false', '-u', BOB.username, '--password-stdin', registry.host], { input: 'wrong' });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /invalid username\/password/);
      const login = await podman().podman(['login', '--tls-verify=false', '-u', BOB.username, '--password-stdin', registry.host], { input: BOB.password });
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded/);
      const pull = await podman().podman(['pull', '-q', '--tls-verify=false', `${registry.host}/team-a/pod:3`]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.equal(`sha256:${pull.stdout.trim()}`, image.imageId);
      const push = await podman().podman(['push', '--tls-verify=false', `${registry.host}/team-a/pod:3`, `${registry.host}/team-a/pod:4`]);
      assert.notEqual(push.code, 0);
      assert.match(push.stderr, DENIED);
    });
  });
});

describe('berth registry serve in Basic mode, against skopeo', { skip: needsRoot() || berthRegistrySkipReason() || skopeoSkipReason() || false }, () => {
  let tmp: string;
  let image: FixtureImage;
  let registry: TestRegistry;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rab-'));
    image = await makeFixtureImage(path.join(tmp, 'layout'));
    const config = path.join(tmp, 'registry.json');
    await fs.writeFile(config, JSON.stringify({ auth: { mode: 'basic' } }));
    registry = await startBerthRegistry({ users: [ALICE, BOB], access: ACCESS, args: ['--config', config] });
  });
  after(async () => {
    await registry?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('asks for Basic credentials, checks them and the rules on every request', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
    assert.equal((await fetch(`${registry.url}/token`)).status, 404, 'no token endpoint in Basic mode');
    const wrong = await skopeoCopy(image.skopeoRef, `docker://${registry.host}/team-a/app:1`, { creds: `${ALICE.username}:wrong` });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|authentication required/);
    const denied = await skopeoCopy(image.skopeoRef, `docker://${registry.host}/team-a/app:1`, { creds: `${BOB.username}:${BOB.password}` });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, DENIED);
    mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/team-a/app:1`, { creds: `${ALICE.username}:${ALICE.password}` }), 'skopeo copy as alice');
    const asBob = await skopeoInspect(`docker://${registry.host}/team-a/app:1`, { creds: `${BOB.username}:${BOB.password}` });
    assert.equal(asBob.Digest, image.manifestDigest);
  });
});

describe('berth registry serve reloads users and rules on SIGHUP', { skip: needsRoot() || berthRegistrySkipReason() || false }, () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startBerthRegistry({ users: [ALICE], access: ACCESS });
  });
  after(async () => {
    await registry?.stop();
  });

  /** The actions the token endpoint grants `user` on `repo` (undefined: the login is refused). */
  async function granted(user: { username: string; password: string }, repo: string): Promise<string[] | undefined> {
    const res = await fetch(`${registry.url}/token?service=berth-registry&scope=repository:${repo}:pull,push`, {
      headers: { Authorization: 'Basic ' + Buffer.from(`${user.username}:${user.password}`).toString('base64') },
    });
    if (res.status === 401) return undefined;
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const access = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).access as Array<{ actions: string[] }>;
    return access[0]?.actions ?? [];
  }

  async function hangUp(expectLog: RegExp): Promise<void> {
    const before = (await registry.logs()).length;
    process.kill(registry.pid!, 'SIGHUP');
    await waitFor(async () => expectLog.test((await registry.logs()).slice(before)), 10_000, `the registry log to match ${expectLog}`);
  }

  test('a new user and a changed rule apply after SIGHUP; a broken file keeps the ones in use', async () => {
    assert.equal(await granted(BOB, 'team-a/app'), undefined, 'bob is not a user yet');
    await fs.writeFile(path.join(registry.root, 'htpasswd'), [await htpasswdLine(ALICE), await htpasswdLine(BOB)].join('\n') + '\n');
    await fs.writeFile(path.join(registry.root, 'access.yaml'), ACCESS.replace('push: [alice]\n    delete: [alice]', 'push: [alice, bob]\n    delete: [alice]'));
    await hangUp(/SIGHUP: reloaded the htpasswd and access files/);
    assert.deepEqual(await granted(BOB, 'team-a/app'), ['pull', 'push']);
    await fs.writeFile(path.join(registry.root, 'access.yaml'), 'rules: [\n');
    await hangUp(/SIGHUP: reload failed, keeping the users and rules in use: .*access.yaml: not valid YAML or JSON/);
    assert.deepEqual(await granted(BOB, 'team-a/app'), ['pull', 'push']);
    assert.deepEqual(await granted(ALICE, 'team-a/app'), ['pull', 'push']);
  });
});
