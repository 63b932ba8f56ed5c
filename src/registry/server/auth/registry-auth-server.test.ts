import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../../../util/digest';
import { silentLogger } from '../../../util/logger';
import { startTestRegistry, type TestRegistry } from '../../../../test/helpers/registry-server';
import { AccessRules } from './access-rules';
import { Htpasswd, htpasswdLine } from './htpasswd';
import { RegistryAuthorizer } from './registry-auth';
import { TokenService } from './token-service';

/** The authorizer plugged into the real registry server: what the rules hide and allow across routes. */

let reg: TestRegistry;
const basic = (user: string, password: string) => ({ Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') });
const ALICE = basic('alice', 'alice-pw');
const BOB = basic('bob', 'bob-pw');

before(async () => {
  const users = Htpasswd.parse([await htpasswdLine('alice', 'alice-pw', 4), await htpasswdLine('bob', 'bob-pw', 4)].join('\n'));
  const access = AccessRules.parse(`
rules:
  - repository: "secret/**"
    pull: [alice]
    push: [alice]
  - repository: "**"
    pull: ["*"]
    push: ["*"]
`);
  const tokens = await TokenService.create({ service: 'reg', issuer: 'reg', expiresIn: 60 });
  const auth = new RegistryAuthorizer({ mode: 'token', htpasswd: users, access, tokens, logger: silentLogger });
  reg = await startTestRegistry({ auth, routes: [auth.tokenRoute] });
});
after(async () => {
  await reg.stop();
});

async function pushImage(repo: string, headers: Record<string, string>): Promise<Digest> {
  const blob = randomBytes(64);
  const digest = digestOf(blob);
  assert.equal((await reg.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: blob, headers })).status, 201);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: blob.length },
    layers: [],
  });
  const res = await reg.request('PUT', `/v2/${repo}/manifests/v1`, { body: manifest, headers: { ...headers, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 201, res.body.toString());
  return digest;
}

async function token(user: Record<string, string>, scope: string): Promise<Record<string, string>> {
  const res = await reg.request('GET', `/token?service=reg&scope=${encodeURIComponent(scope)}`, { headers: user });
  assert.equal(res.status, 200);
  return { Authorization: `Bearer ${res.json().token}` };
}

test('the catalog lists only what the caller may pull, with Basic credentials or a catalog token', async () => {
  await pushImage('secret/app', ALICE);
  await pushImage('shared/app', BOB);
  assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: ALICE })).json().repositories, ['secret/app', 'shared/app']);
  assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: BOB })).json().repositories, ['shared/app']);
  const bobToken = await token(BOB, 'registry:catalog:*');
  assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: bobToken })).json().repositories, ['shared/app']);
  const aliceToken = await token(ALICE, 'registry:catalog:*');
  assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: aliceToken })).json().repositories, ['secret/app', 'shared/app']);
  assert.equal((await reg.request('GET', '/v2/_catalog')).status, 401);
});

test('a cross-repository mount needs pull on the source: without it the blob is uploaded, never linked', async () => {
  const digest = await pushImage('secret/base', ALICE);
  // bob's token for his own repository; the mount from secret/ falls back to an upload.
  const bobToken = await token(BOB, 'repository:bob/app:pull,push repository:secret/base:pull');
  const mount = await reg.request('POST', `/v2/bob/app/blobs/uploads/?mount=${digest}&from=secret/base`, { headers: bobToken });
  assert.equal(mount.status, 202, 'an upload session instead of the mount');
  assert.equal((await reg.request('HEAD', `/v2/bob/app/blobs/${digest}`, { headers: bobToken })).status, 404);
  // alice may pull the source: her mount links it.
  const aliceToken = await token(ALICE, 'repository:alice/app:pull,push repository:secret/base:pull');
  const mounted = await reg.request('POST', `/v2/alice/app/blobs/uploads/?mount=${digest}&from=secret/base`, { headers: aliceToken });
  assert.equal(mounted.status, 201);
  assert.equal((await reg.request('HEAD', `/v2/alice/app/blobs/${digest}`, { headers: aliceToken })).status, 200);
});
