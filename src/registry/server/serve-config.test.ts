import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../util/logger';
import { htpasswdLine } from './auth/htpasswd';
import { buildServeHooks, defaultServeConfig, loadServeConfigFile, mergeServeFlags, parseServeConfig } from './serve-config';

test('serve config: every flag in YAML, paths relative to the file, webhooks as URLs or objects', () => {
  const config = parseServeConfig(`
addr: 127.0.0.1:5001
root: data
htpasswd: /etc/berth/htpasswd
access: access.yaml
auth:
  mode: basic
  token: { service: reg, issuer: me, realm: "http://127.0.0.1:5001/token", expiresIn: 60, key: key.pem }
webhooks:
  - http://127.0.0.1:9000/hook
  - url: http://127.0.0.1:9001/slack
    template: slack
    name: chat
    actions: [push]
    headers: { Authorization: "Bearer x" }
    maxAttempts: 3
    backoffMs: 10
`, 'registry.yaml', '/srv/conf');
  assert.deepEqual(config, {
    addr: '127.0.0.1:5001',
    root: '/srv/conf/data',
    htpasswd: '/etc/berth/htpasswd',
    access: '/srv/conf/access.yaml',
    auth: { mode: 'basic', token: { service: 'reg', issuer: 'me', realm: 'http://127.0.0.1:5001/token', expiresIn: 60, key: '/srv/conf/key.pem' } },
    webhooks: [
      { url: 'http://127.0.0.1:9000/hook' },
      { url: 'http://127.0.0.1:9001/slack', template: 'slack', name: 'chat', actions: ['push'], headers: { Authorization: 'Bearer x' }, maxAttempts: 3, backoffMs: 10 },
    ],
  });
  // JSON is YAML; an empty file is the defaults.
  assert.deepEqual(parseServeConfig('{"addr": "127.0.0.1:1"}', 'c.json', '/').addr, '127.0.0.1:1');
  assert.deepEqual(parseServeConfig('', 'c.yaml', '/'), defaultServeConfig());
});

test('serve config: mistakes name the file and the key', () => {
  const bad: Array<[string, RegExp]> = [
    ['adr: x', /c.yaml: unknown key "adr"/],
    ['root: ""', /c.yaml: root must be a non-empty string/],
    ['auth: { mode: digest }', /c.yaml: auth.mode must be "token" or "basic", not "digest"/],
    ['auth: { token: { expiresIn: -5 } }', /c.yaml: auth.token.expiresIn must be a positive whole number, not -5/],
    ['auth: { token: { realm: "ftp://x/token" } }', /c.yaml: auth.token.realm: "ftp:\/\/x\/token" must be an http/],
    ['webhooks: http://x', /c.yaml: webhooks must be a list/],
    ['webhooks: ["not a url"]', /c.yaml: webhooks\[0\]: "not a url" is not a URL/],
    ['webhooks: [{ template: slack }]', /c.yaml: webhooks\[0\]: "url" is required/],
    ['webhooks: [{ url: "http://x", template: teams }]', /c.yaml: webhooks\[0\].template must be one of json, slack, not "teams"/],
    ['webhooks: [{ url: "http://x", actions: [pull] }]', /c.yaml: webhooks\[0\].actions must be a non-empty list of "push" and "delete"/],
    ['webhooks: [{ url: "http://x", retries: 3 }]', /c.yaml: webhooks\[0\]: unknown key "retries"/],
    ['addr: [', /c.yaml: not valid YAML or JSON/],
    ['tls: { certificate: a.crt }', /c.yaml: tls: both "certificate" and "key" are required/],
    ['tls: { cert: a.crt, key: a.key }', /c.yaml: tls: unknown key "cert"/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseServeConfig(text, 'c.yaml', '/'), message, text);
});

test('serve config: flags win over the file, --webhook adds', () => {
  const file = parseServeConfig('addr: 127.0.0.1:5000\nroot: data\nwebhooks: [http://127.0.0.1:9/a]', 'c.yaml', '/etc');
  const merged = mergeServeFlags(file, { htpasswd: 'relative/users', webhook: ['http://127.0.0.1:9/b'] });
  assert.equal(merged.addr, '127.0.0.1:5000');
  assert.equal(merged.root, '/etc/data');
  assert.equal(merged.htpasswd, path.resolve('relative/users'));
  assert.deepEqual(merged.webhooks.map((w) => w.url), ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b']);
  assert.deepEqual(file.webhooks.length, 1, 'the file config is not changed');
  const flagged = mergeServeFlags(file, { addr: '127.0.0.1:6000', root: '/srv/other' });
  assert.equal(flagged.addr, '127.0.0.1:6000');
  assert.equal(flagged.root, '/srv/other');
  assert.throws(() => mergeServeFlags(file, { webhook: ['mailto:x'] }), /--webhook mailto:x: "mailto:x" must be an http/);
});

test('serve hooks: auth only with users or rules, token mode by default, webhooks only when configured', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-serve-config-'));
  try {
    await fs.writeFile(path.join(dir, 'htpasswd'), (await htpasswdLine('alice', 'pw', 4)) + '\n');
    await fs.writeFile(path.join(dir, 'access.yaml'), 'rules:\n  - repository: "**"\n    pull: ["*"]\n');
    await fs.writeFile(path.join(dir, 'registry.yaml'), 'htpasswd: htpasswd\naccess: access.yaml\nwebhooks: [http://127.0.0.1:1/x]\n');
    const open = await buildServeHooks(defaultServeConfig(), silentLogger);
    assert.equal(open.auth, undefined);
    assert.equal(open.events, undefined);
    const hooks = await buildServeHooks(await loadServeConfigFile(path.join(dir, 'registry.yaml')), silentLogger);
    assert.ok(hooks.auth);
    assert.equal(hooks.auth.tokenPath, '/token');
    assert.ok(hooks.events);
    await hooks.events.close(0);
    await assert.rejects(loadServeConfigFile(path.join(dir, 'missing.yaml')), /cannot read registry config file .*missing.yaml/);
    await fs.writeFile(path.join(dir, 'bad.yaml'), 'htpasswd: nope\n');
    await assert.rejects(async () => buildServeHooks(await loadServeConfigFile(path.join(dir, 'bad.yaml')), silentLogger), /cannot read htpasswd file .*nope/);
    await fs.writeFile(path.join(dir, 'key.yaml'), 'htpasswd: htpasswd\nauth: { token: { key: htpasswd } }\n');
    await assert.rejects(async () => buildServeHooks(await loadServeConfigFile(path.join(dir, 'key.yaml')), silentLogger), /cannot read the token signing key .*htpasswd/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('serve config: tls from the file (relative to it) or from --tls-cert/--tls-key, which win; one flag alone needs the other', () => {
  const file = parseServeConfig('tls:\n  certificate: certs/r.crt\n  key: certs/r.key\n', 'c.yaml', '/etc/reg');
  assert.deepEqual(file.tls, { certificate: '/etc/reg/certs/r.crt', key: '/etc/reg/certs/r.key' });
  assert.deepEqual(mergeServeFlags(file, { tlsCert: '/other.crt' }).tls, { certificate: '/other.crt', key: '/etc/reg/certs/r.key' });
  const none = defaultServeConfig();
  assert.equal(mergeServeFlags(none, {}).tls, undefined);
  assert.deepEqual(mergeServeFlags(none, { tlsCert: 'a.crt', tlsKey: 'a.key' }).tls, { certificate: path.resolve('a.crt'), key: path.resolve('a.key') });
  assert.throws(() => mergeServeFlags(none, { tlsCert: 'a.crt' }), /--tls-cert needs --tls-key/);
  assert.throws(() => mergeServeFlags(none, { tlsKey: 'a.key' }), /--tls-key needs --tls-cert/);
});

test('serve config: storage.s3 with distribution\'s keys; mistakes are named', () => {
  const config = parseServeConfig(`
storage:
  s3:
    bucket: reg
    regionendpoint: http://127.0.0.1:9000
    rootdirectory: /berth/
    accesskey: k
    secretkey: s
`, 'r.yaml', '/etc');
  assert.deepEqual(config.storage, { s3: { bucket: 'reg', endpoint: 'http://127.0.0.1:9000', prefix: 'berth/', accessKeyId: 'k', secretAccessKey: 's' } });
  assert.throws(() => parseServeConfig('storage: {s3: {regionendpoint: "http://x"}}', 'r.yaml', '/'), /r\.yaml: storage\.s3: "bucket" is required/);
  assert.throws(() => parseServeConfig('storage: {s3: {bucket: b, accesskey: k}}', 'r.yaml', '/'), /"accesskey" and "secretkey" go together/);
  assert.throws(() => parseServeConfig('storage: {s3: {bucket: b, endpoint: "http://x"}}', 'r.yaml', '/'), /unknown key "endpoint"/);
  assert.throws(() => parseServeConfig('storage: {gcs: {}}', 'r.yaml', '/'), /r\.yaml: storage: unknown key "gcs"/);
});
