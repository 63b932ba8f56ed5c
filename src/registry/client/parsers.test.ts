import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from './challenge';
import { normalizePlatform, parsePlatform, platformMatches, platformString } from './platform';
import { decodeRegistryAuth, encodeRegistryAuth } from './registry-auth-header';

test('WWW-Authenticate: Bearer with quoted params, several challenges, escapes', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="a \\"quoted\\" realm"', 'Bearer realm=http://x/token, error=insufficient_scope']), [
    { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
    { scheme: 'bearer', params: { realm: 'http://x/token', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="x", Bearer realm="y"').map((c) => c.scheme), ['basic', 'bearer']);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('platforms: parsing, aliases and default variants, matching', () => {
  assert.deepEqual(parsePlatform('linux'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('Linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.equal(platformString(normalizePlatform({ os: 'linux', architecture: 'aarch64' })), 'linux/arm64');
  assert.throws(() => parsePlatform('linux/amd64/v2/x'), /unknown operating system or architecture/);
  assert.throws(() => parsePlatform('linux//'), /unknown operating system or architecture/);
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' }), true);
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm')), false);
  assert.equal(platformMatches({ os: 'windows', architecture: 'amd64' }, parsePlatform('linux/amd64')), false);
});

test('X-Registry-Auth: docker\'s base64url JSON both ways; any key case; config.json\'s auth field; bad input named', () => {
  const header = encodeRegistryAuth({ username: 'alice', password: 'p?w>d~', serverAddress: 'localhost:5000' });
  assert.ok(/^[A-Za-z0-9_-]+=*$/.test(header), header);
  assert.equal(header.length % 4, 0, 'padded, as Go\'s base64.URLEncoding wants');
  assert.deepEqual(decodeRegistryAuth(header), { username: 'alice', password: 'p?w>d~', serverAddress: 'localhost:5000' });
  const goStyle = Buffer.from(JSON.stringify({ Username: 'bob', Password: 'x', IdentityToken: 'tok', ServerAddress: 'r' })).toString('base64');
  assert.deepEqual(decodeRegistryAuth(goStyle), { username: 'bob', password: 'x', identityToken: 'tok', serverAddress: 'r' });
  const auth = Buffer.from(JSON.stringify({ auth: Buffer.from('carol:secret:with:colons').toString('base64') })).toString('base64url');
  assert.deepEqual(decodeRegistryAuth(auth), { username: 'carol', password: 'secret:with:colons' });
  assert.deepEqual(decodeRegistryAuth(''), {});
  assert.deepEqual(decodeRegistryAuth(Buffer.from('{}').toString('base64')), {});
  assert.throws(() => decodeRegistryAuth('!!!not-base64-json'), { message: /^invalid X-Registry-Auth header: / });
  assert.throws(() => decodeRegistryAuth(Buffer.from('[1]').toString('base64')), /invalid X-Registry-Auth header: not a JSON object/);
});
