import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { runCommand } from '../../helpers/cli';
import { contextTar, postBuild } from '../../helpers/build-context';

/**
 * POST /build refuses what it must before building anything, with dockerd's statuses: a
 * context that climbs or links out of itself, bad options. Each leaves no context folder.
 */
const skip = needsRoot('starts berthd');
let daemon: TestDaemon;

before(async () => {
  if (skip) return;
  daemon = await startTestDaemon();
  await bootstrapBusybox(daemon);
});
after(async () => {
  await daemon?.stop();
});

const DOCKERFILE = { name: 'Dockerfile', content: 'FROM busybox\nCOPY . /ctx\n' };

async function contextsLeft(): Promise<string[]> {
  return fs.readdir(path.join(daemon.dataRoot, 'builder', 'contexts'));
}

test('a context tar that climbs or links out of itself is refused with a 400 naming the entry', { skip }, async () => {
  const cases: Array<[string, Parameters<typeof contextTar>[0], RegExp]> = [
    ['.. entry', [DOCKERFILE, { name: '../escape', content: 'x' }], /^invalid build context: tar entry "\.\.\/escape" climbs out of the destination$/],
    ['nested .. entry', [DOCKERFILE, { name: 'a/../../escape', content: 'x' }], /climbs out of the destination/],
    ['absolute symlink', [DOCKERFILE, { name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }], /^invalid build context: tar entry "passwd": symlink target "\/etc\/passwd" points outside the destination$/],
    ['climbing symlink', [DOCKERFILE, { name: 'd', type: 'directory' }, { name: 'd/up', type: 'symlink', linkname: '../../etc' }], /tar entry "d\/up": symlink target "\.\.\/\.\.\/etc" points outside/],
    ['hardlink out', [DOCKERFILE, { name: 'h', type: 'link', linkname: '../../etc/shadow' }], /hardlink target "\.\.\/\.\.\/etc\/shadow" is outside the destination/],
  ];
  for (const [what, entries, message] of cases) {
    const res = await postBuild(daemon.socket, 't=x:1', await contextTar(entries));
    assert.equal(res.status, 400, `${what}: ${res.body}`);
    assert.match((JSON.parse(res.body) as { message: string }).message, message, what);
  }
  assert.deepEqual(await contextsLeft(), []);
  const images = JSON.parse((await apiRequest(daemon.socket, 'GET', '/images/json?filters=%7B%22reference%22%3A%5B%22x%22%5D%7D')).body) as unknown[];
  assert.deepEqual(images, []);
});

test('a symlink that stays inside the context is accepted by the extraction', { skip }, async () => {
  // It gets past the context (to the builder), unlike the ones above.
  const res = await postBuild(daemon.socket, '', await contextTar([DOCKERFILE, { name: 'd', type: 'directory' }, { name: 'd/f', content: 'x' }, { name: 'd/in', type: 'symlink', linkname: '../d/f' }]));
  assert.notEqual(res.status, 400, res.body);
  assert.deepEqual(await contextsLeft(), []);
});

test('a body that is not a tar is a 400', { skip }, async () => {
  const res = await postBuild(daemon.socket, '', Buffer.from('garbage, not a tar at all'.repeat(40)));
  assert.equal(res.status, 400, res.body);
  assert.match((JSON.parse(res.body) as { message: string }).message, /^invalid build context: /);
  assert.deepEqual(await contextsLeft(), []);
});

test('bad options get dockerd\'s messages; remote contexts and BuildKit are refused clearly', { skip }, async () => {
  const tar = await contextTar([DOCKERFILE]);
  const cases: Array<[string, number, string | RegExp]> = [
    ['t=Bad', 400, 'invalid reference format: repository name must be lowercase'],
    [`t=${encodeURIComponent('a@sha256:' + 'a'.repeat(64))}`, 400, 'build tag cannot contain a digest'],
    ['buildargs=notjson', 400, /^error reading build args: /],
    ['buildargs=%5B1%5D', 400, 'error reading build args: expected a JSON object of strings'],
    ['labels=%7B%22a%22%3A1%7D', 400, 'error reading labels: the value of "a" is not a string'],
    ['cachefrom=x', 400, /^error reading cache-from: /],
    ['dockerfile=..%2Fx', 400, 'Cannot locate specified Dockerfile: ../x'],
    ['remote=https%3A%2F%2Fexample.invalid%2Fctx.tar', 501, /^remote build contexts are not supported by berth \(remote=https:\/\/example\.invalid\/ctx\.tar\)/],
    ['version=2', 501, /^BuildKit \(builder version 2\) is not supported by berth/],
    ['platform=linux%2Farm64', 400, '"linux/arm64": berth builds for linux/amd64 only'],
  ];
  for (const [query, status, message] of cases) {
    const res = await postBuild(daemon.socket, query, tar);
    assert.equal(res.status, status, `${query}: ${res.body}`);
    const got = (JSON.parse(res.body) as { message: string }).message;
    if (typeof message === 'string') assert.equal(got, message, query);
    else assert.match(got, message, query);
  }
  const secrets = await postBuild(daemon.socket, '', tar, { 'X-Berth-Build-Secrets': '{"tok":"relative/path"}' });
  assert.equal(secrets.status, 400);
  assert.match(secrets.body, /build secret \\"tok\\": its source must be an absolute path on the daemon's host/);
});

test('/_ping says the daemon offers the classic builder (Builder-Version: 1), for GET and HEAD', { skip }, async () => {
  for (const method of ['GET', 'HEAD']) {
    const res = await apiRequest(daemon.socket, method, '/_ping');
    assert.equal(res.status, 200);
    assert.equal(res.headers['builder-version'], '1', method);
  }
});

test('POST /build/prune answers in dockerd\'s shape', { skip }, async () => {
  const res = await apiRequest(daemon.socket, 'POST', '/build/prune');
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body) as { SpaceReclaimed: number };
  assert.equal(typeof body.SpaceReclaimed, 'number');
});

test('a context compressed with gzip, bzip2, xz or zstd is unpacked as docker accepts it', { skip }, async () => {
  const tar = await contextTar([{ name: 'Dockerfile', content: 'FROM busybox\nCOPY hello /hello\n' }, { name: 'hello', content: 'compressed context\n' }]);
  for (const [what, program] of [['gzip', 'gzip'], ['bzip2', 'bzip2'], ['xz', 'xz'], ['zstd', 'zstd']] as const) {
    const packed = await runCommand(program, ['-c'], { input: tar });
    assert.equal(packed.code, 0, packed.stderr);
    const res = await postBuild(daemon.socket, `t=compressed-${what}:1`, packed.stdoutBytes);
    assert.equal(res.status, 200, `${what}: ${res.body}`);
    assert.ok(!res.body.includes('"error"'), `${what}: ${res.body}`);
    assert.match(res.body, /Successfully tagged compressed-/);
  }
  assert.deepEqual(await contextsLeft(), []);
});

test('a missing Dockerfile is dockerd\'s 400 before any output', { skip }, async () => {
  const res = await postBuild(daemon.socket, 'dockerfile=sub%2FNope', await contextTar([{ name: 'other', content: 'x' }]));
  assert.equal(res.status, 400, res.body);
  assert.equal((JSON.parse(res.body) as { message: string }).message, 'Cannot locate specified Dockerfile: sub/Nope');
  assert.deepEqual(await contextsLeft(), []);
});
