import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  familiarMatch,
  familiarName,
  familiarString,
  parseAnyReference,
  parseDockerRef,
  parseNormalizedNamed,
  referenceString,
} from './reference';

const HEX = 'a'.repeat(64);
const DIGEST = `sha256:${HEX}`;

const valid: Array<[string, string, string]> = [
  // input, fully qualified, familiar
  ['busybox', 'docker.io/library/busybox', 'busybox'],
  ['busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['library/busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['docker.io/library/busybox', 'docker.io/library/busybox', 'busybox'],
  ['index.docker.io/library/busybox', 'docker.io/library/busybox', 'busybox'],
  ['docker.io/busybox', 'docker.io/library/busybox', 'busybox'],
  ['user/app', 'docker.io/user/app', 'user/app'],
  ['user/app:v1.2_x-y', 'docker.io/user/app:v1.2_x-y', 'user/app:v1.2_x-y'],
  ['docker.io/library/a/b', 'docker.io/library/a/b', 'library/a/b'],
  ['localhost/app', 'localhost/app', 'localhost/app'],
  ['localhost:5000/app:tag', 'localhost:5000/app:tag', 'localhost:5000/app:tag'],
  ['registry.example.com/a/b/c', 'registry.example.com/a/b/c', 'registry.example.com/a/b/c'],
  ['Registry.Example.com/app', 'Registry.Example.com/app', 'Registry.Example.com/app'],
  ['127.0.0.1:5000/app', '127.0.0.1:5000/app', '127.0.0.1:5000/app'],
  ['[::1]:5000/app', '[::1]:5000/app', '[::1]:5000/app'],
  ['a.b_c__d-e--f', 'docker.io/library/a.b_c__d-e--f', 'a.b_c__d-e--f'],
  [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, `busybox@${DIGEST}`],
  [`busybox:1@${DIGEST}`, `docker.io/library/busybox:1@${DIGEST}`, `busybox:1@${DIGEST}`],
  ['foo:' + 'x'.repeat(128), 'docker.io/library/foo:' + 'x'.repeat(128), 'foo:' + 'x'.repeat(128)],
  ['abc', 'docker.io/library/abc', 'abc'],
  // A registry with a port, a namespace, a tag and a digest; the first component is a host for '.', ':' or localhost.
  [`127.0.0.1:5000/ns/repo:tag@${DIGEST}`, `127.0.0.1:5000/ns/repo:tag@${DIGEST}`, `127.0.0.1:5000/ns/repo:tag@${DIGEST}`],
  [`localhost/ns/repo@${DIGEST}`, `localhost/ns/repo@${DIGEST}`, `localhost/ns/repo@${DIGEST}`],
  ['[::1]:5000/app:1', '[::1]:5000/app:1', '[::1]:5000/app:1'],
  ['registry.lan/team-a/app', 'registry.lan/team-a/app', 'registry.lan/team-a/app'],
  ['team-a/app', 'docker.io/team-a/app', 'team-a/app'],
  ['sha256:abc', 'docker.io/library/sha256:abc', 'sha256:abc'],
];

for (const [input, full, familiar] of valid) {
  test(`parses ${JSON.stringify(input)}`, () => {
    const ref = parseNormalizedNamed(input);
    assert.equal(referenceString(ref), full);
    assert.equal(familiarString(ref), familiar);
  });
}

const invalid: Array<[string, string]> = [
  ['', 'invalid reference format'],
  ['Busybox', 'invalid reference format: repository name must be lowercase'],
  ['user/App:tag', 'invalid reference format: repository name must be lowercase'],
  ['busybox:', 'invalid reference format'],
  [':tag', 'invalid reference format'],
  ['busybox::tag', 'invalid reference format'],
  ['-busybox', 'invalid reference format'],
  ['busybox-', 'invalid reference format'],
  ['bu$ybox', 'invalid reference format'],
  ['busybox:-tag', 'invalid reference format'],
  ['busybox:' + 'x'.repeat(129), 'invalid reference format'],
  ['a//b', 'invalid reference format'],
  ['/busybox', 'invalid reference format'],
  ['busybox/', 'invalid reference format'],
  ['busybox@sha256:abc', 'invalid reference format'],
  [`busybox@sha256:${'a'.repeat(63)}`, 'invalid checksum digest length'],
  [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
  ['localhost:port/app', 'invalid reference format'],
  ['a'.repeat(256), 'repository name must not be more than 255 characters'],
];

for (const [input, message] of invalid) {
  test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
    assert.throws(() => parseNormalizedNamed(input), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(err.message, message);
      return true;
    });
  });
}

test('uppercase in the domain part is allowed', () => {
  assert.equal(parseNormalizedNamed('Localhost:5000/app').domain, 'Localhost:5000');
});

test('parseDockerRef adds latest and drops a tag next to a digest', () => {
  assert.equal(referenceString(parseDockerRef('busybox')), 'docker.io/library/busybox:latest');
  assert.equal(referenceString(parseDockerRef(`busybox:1@${DIGEST}`)), `docker.io/library/busybox@${DIGEST}`);
});

test('parseAnyReference recognizes IDs', () => {
  assert.deepEqual(parseAnyReference(HEX), { kind: 'id', digest: DIGEST });
  assert.deepEqual(parseAnyReference(DIGEST), { kind: 'id', digest: DIGEST });
  const named = parseAnyReference('busybox');
  assert.equal(named.kind, 'named');
});

test('familiarName keeps non-library docker.io paths', () => {
  assert.equal(familiarName(parseNormalizedNamed('docker.io/library/a/b')), 'library/a/b');
  assert.equal(familiarName(parseNormalizedNamed('user/app')), 'user/app');
});

test('familiarMatch follows path.Match', () => {
  const ref = parseDockerRef('busybox:1.36');
  assert.ok(familiarMatch('busybox', ref));
  assert.ok(familiarMatch('busy*', ref));
  assert.ok(familiarMatch('busybox:1.*', ref));
  assert.ok(!familiarMatch('busybox:2*', ref));
  assert.ok(!familiarMatch('*', parseDockerRef('user/app')));
  assert.ok(familiarMatch('*/*', parseDockerRef('user/app')));
  assert.ok(familiarMatch('b[u]sybox', ref));
});
