import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import { makeFixtureImage, writeDockerArchive, FixtureImage } from '../../helpers/fixture-image';
import { berthRegistrySkipReason, startBerthRegistry, TestRegistry } from '../../helpers/registry';
import { needsRoot } from '../../helpers/root';
import { skopeoInspect, skopeoSkipReason } from '../../helpers/skopeo';
import { apiRequest, startTestDaemon, TestDaemon } from '../../helpers/test-daemon';
import { ok } from './peers';

/**
 * berth on both sides, with auth: berthd (driven by the docker CLI 28, each user with a
 * config folder of their own) logs in to `berth registry serve` through its token auth,
 * pushes and pulls as the access rules allow, and is refused where they do not; skopeo
 * reads what berthd pushed with the same credentials.
 */

const ALICE = { username: 'alice', password: 'alice-pw-1' };
const BOB = { username: 'bob', password: 'bob-pw-2' };
const ACCESS = `
rules:
  - repository: "team/*"
    pull: [alice, bob]
    push: [alice]
    delete: [alice]
`;
const CLIENT = DOCKER_CLIENTS[0];

describe("berthd and berth's registry with token auth and access rules", { skip: needsRoot() || berthRegistrySkipReason() || (CLIENT ? false : 'no docker CLI installed') }, () => {
  let tmp: string;
  let image: FixtureImage;
  let registry: TestRegistry;
  let daemon: TestDaemon;
  const configs: Record<string, string> = {};
  const as = (user: string, args: string[], input?: string) =>
    runCommand(CLIENT!, ['-H', daemon.host, ...args], { input, env: { DOCKER_CONFIG: configs[user]!, DOCKER_CLI_HINTS: 'false' }, timeoutMs: 180_000 });

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ia-'));
    for (const user of ['alice', 'bob', 'anonymous']) configs[user] = await fs.mkdtemp(path.join(tmp, `${user}-`));
    image = await makeFixtureImage(path.join(tmp, 'layout'), { dataLayers: [800_000], seed: 'auth-interop', format: 'docker' });
    const archive = path.join(tmp, 'image.tar');
    await writeDockerArchive(image, archive, 'fixture/app:1');
    registry = await startBerthRegistry({ users: [ALICE, BOB], access: ACCESS });
    daemon = await startTestDaemon();
    await registry.exposeIn(daemon.netns!);
    ok(await as('alice', ['load', '-i', archive]), 'docker load');
  });
  after(async () => {
    await daemon?.stop();
    await registry?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('a wrong password is refused, a right one logs in and its identity token is kept in config.json', async () => {
    const wrong = await as('alice', ['login', '-u', ALICE.username, '--password-stdin', registry.host], 'not-the-password');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|incorrect username or password/i);
    for (const user of [ALICE, BOB]) {
      const login = await as(user.username, ['login', '-u', user.username, '--password-stdin', registry.host], user.password);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded/);
      // berth's token server answers an offline login with a refresh token: docker keeps it
      // as the identity token, and the password stays out of config.json.
      const text = await fs.readFile(path.join(configs[user.username]!, 'config.json'), 'utf8');
      const entry = (JSON.parse(text) as { auths: Record<string, { auth?: string; identitytoken?: string }> }).auths[registry.host]!;
      assert.ok(entry.identitytoken, text);
      assert.ok(!text.includes(Buffer.from(`${user.username}:${user.password}`).toString('base64')), 'no password in config.json');
    }
  });

  test('alice pushes; bob and skopeo pull it; bob may not push; nobody pulls anonymously', async () => {
    const ref = `${registry.host}/team/app:1`;
    ok(await as('alice', ['tag', 'fixture/app:1', ref]), 'tag');
    const push = ok(await as('alice', ['push', ref]), 'alice push');
    const digest = /1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
    assert.ok(digest, push.stdout);

    if (!skopeoSkipReason()) {
      const info = await skopeoInspect(`docker://${ref}`, { creds: `${BOB.username}:${BOB.password}` });
      assert.equal(info.Digest, digest);
    }

    ok(await as('alice', ['rmi', ref, 'fixture/app:1']), 'rmi');
    const pull = ok(await as('bob', ['pull', ref]), 'bob pull');
    assert.ok(pull.stdout.includes(`Digest: ${digest}`), pull.stdout);
    const run = ok(await as('bob', ['run', '--rm', ref, 'sh', '-c', 'wc -c < /data/layer-0.bin']), 'bob run');
    assert.equal(run.stdout.trim(), '800000');

    ok(await as('bob', ['tag', ref, `${registry.host}/team/app:bob`]), 'tag');
    const denied = await as('bob', ['push', `${registry.host}/team/app:bob`]);
    assert.notEqual(denied.code, 0, denied.stdout);
    assert.match(denied.stdout + denied.stderr, /denied/);

    // As dockerd: a 404 "pull access denied", not a 401 (which docker CLI 28 answers with a login prompt).
    const anonymous = await apiRequest(daemon.socket, 'POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${registry.host}/team/app`)}&tag=1`);
    assert.equal(anonymous.status, 404, anonymous.body);
    assert.match(JSON.parse(anonymous.body).message, new RegExp(`^pull access denied for ${registry.host.replace(/\./g, '\\.')}/team/app, repository does not exist or may require 'docker login': `));
  });
});
