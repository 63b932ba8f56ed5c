import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import { CLI_MAIN } from '../helpers/test-daemon';
import { distributionRegistrySkipReason, startDistributionRegistry, type TestRegistry } from '../helpers/registry';
import { memoryImage, pushMemoryImage } from '../helpers/registry-image';
import { RegistryClient } from '../../src/registry/client/hosts';
import { encodeRegistryAuth } from '../../src/registry/client/registry-auth-header';
import { parseDockerRef } from '../../src/images/reference';
import { freePort } from '../helpers/registry';
import { pythonDockerSkipReason, runPythonDocker } from '../helpers/python-docker';
import { PtySession, SCRIPT } from '../helpers/pty';
import { startTokenServer, type TokenServer } from '../helpers/token-server';

/**
 * Logins and registry settings through berthd: docker login / berth login against Debian's
 * docker-registry with htpasswd (POST /auth), config.json as docker writes it, GET
 * /distribution, and --registry-mirror / --insecure-registry / --config-file in docker info.
 */
const skip = needsRoot('needs root (the daemon)') || (distributionRegistrySkipReason() ?? false);

function api(socket: string, method: string, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('registry login, distribution and settings through berthd', { skip }, () => {
  let registry: TestRegistry;
  let daemon: TestDaemon;
  let configDir: string;
  let digest: string;
  before(async () => {
    registry = await startDistributionRegistry({ users: [{ username: 'alice', password: 's3cret' }] });
    const image = await memoryImage();
    digest = image.manifestDesc.digest;
    const client = new RegistryClient();
    await pushMemoryImage(client.session(parseDockerRef(`${registry.host}/private/app:1`), { actions: ['pull', 'push'], auth: { username: 'alice', password: 's3cret' } }), image, '1');
    client.close();
    daemon = await startTestDaemon({
      hostNetwork: true,
      prepare: async ({ root }) => {
        await fs.writeFile(path.join(root, 'daemon.json'), JSON.stringify({ 'insecure-registries': ['myreg.example:5000', '10.1.0.0/16'] }));
      },
      args: ({ root }) => ['--config-file', path.join(root, 'daemon.json'), '--registry-mirror', 'http://127.0.0.1:5999'],
    });
    configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-dockercfg-'));
  });
  after(async () => {
    await daemon?.stop();
    await registry?.stop();
    if (configDir) await fs.rm(configDir, { recursive: true, force: true });
  });

  const env = () => ({ DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false', BERTH_HOST: daemon.host });

  test('docker info shows mirrors and insecure registries from the flags and the config file', async () => {
    const info = JSON.parse((await api(daemon.socket, 'GET', '/info')).body) as { RegistryConfig: unknown };
    assert.deepEqual(info.RegistryConfig, {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8', '10.1.0.0/16'],
      IndexConfigs: {
        'myreg.example:5000': { Name: 'myreg.example:5000', Mirrors: [], Secure: false, Official: false },
        'docker.io': { Name: 'docker.io', Mirrors: ['http://127.0.0.1:5999/'], Secure: true, Official: true },
      },
      Mirrors: ['http://127.0.0.1:5999/'],
    });
    for (const client of DOCKER_CLIENTS) {
      const r = await runCommand(client, ['-H', daemon.host, 'info'], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Insecure Registries:\n\s+myreg.example:5000\n\s+127.0.0.0\/8\n\s+10.1.0.0\/16\n/, client);
      assert.match(r.stdout, /Registry Mirrors:\n\s+http:\/\/127.0.0.1:5999\/\n/, client);
    }
    const berthInfo = await runCommand(CLI_MAIN, ['info'], { env: env() });
    assert.equal(berthInfo.code, 0, berthInfo.stderr);
    assert.match(berthInfo.stdout, / Insecure Registries:\n  myreg.example:5000\n  127.0.0.0\/8\n  10.1.0.0\/16\n Registry Mirrors:\n  http:\/\/127.0.0.1:5999\/\n/);
  });

  test('docker login: good credentials are stored as docker stores them, bad ones get dockerd\'s 401 message', async () => {
    for (const client of DOCKER_CLIENTS) {
      await fs.rm(path.join(configDir, 'config.json'), { force: true });
      const ok = await runCommand(client, ['-H', daemon.host, 'login', '-u', 'alice', '--password-stdin', registry.host], { env: env(), input: 's3cret\n' });
      assert.equal(ok.code, 0, `${client}: ${ok.stderr}`);
      assert.match(ok.stdout, /Login Succeeded/);
      const config = JSON.parse(await fs.readFile(path.join(configDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
      assert.equal(config.auths[registry.host]?.auth, Buffer.from('alice:s3cret').toString('base64'));

      const bad = await runCommand(client, ['-H', daemon.host, 'login', '-u', 'alice', '--password-stdin', registry.host], { env: env(), input: 'wrong\n' });
      assert.equal(bad.code, 1, client);
      assert.match(bad.stderr, new RegExp(`Error response from daemon: login attempt to http://${registry.host}/v2/ failed with status: 401 Unauthorized`), client);
    }
  });

  test('berth login and logout share docker\'s config.json', async () => {
    await fs.rm(path.join(configDir, 'config.json'), { force: true });
    const login = await runCommand(CLI_MAIN, ['login', '-u', 'alice', '--password-stdin', `http://${registry.host}/`], { env: env(), input: 's3cret\n' });
    assert.equal(login.code, 0, login.stderr);
    assert.equal(login.stdout, 'Login Succeeded\n');
    assert.match(login.stderr, /WARNING! Your password will be stored unencrypted/);
    const config = JSON.parse(await fs.readFile(path.join(configDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.deepEqual(Object.keys(config.auths), [registry.host]);
    const stat = await fs.stat(path.join(configDir, 'config.json'));
    assert.equal(stat.mode & 0o777, 0o600);

    // Stored credentials are tried first when none are given.
    const again = await runCommand(CLI_MAIN, ['login', registry.host], { env: env() });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'Authenticating with existing credentials...\nLogin Succeeded\n');

    const bad = await runCommand(CLI_MAIN, ['login', '-u', 'alice', '-p', 'nope', registry.host], { env: env() });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `WARNING! Using --password via the CLI is insecure. Use --password-stdin.\nError response from daemon: login attempt to http://${registry.host}/v2/ failed with status: 401 Unauthorized\n`);

    const out = await runCommand(CLI_MAIN, ['logout', registry.host], { env: env() });
    assert.equal(out.stdout, `Removing login credentials for ${registry.host}\n`);
    const none = await runCommand(CLI_MAIN, ['logout', registry.host], { env: env() });
    assert.equal(none.stdout, `Not logged in to ${registry.host}\n`);
    assert.deepEqual((JSON.parse(await fs.readFile(path.join(configDir, 'config.json'), 'utf8')) as { auths: object }).auths, {});
  });

  test('GET /distribution/{name}/json: the descriptor and platform with X-Registry-Auth; 401 without', async () => {
    const auth = encodeRegistryAuth({ username: 'alice', password: 's3cret', serverAddress: registry.host });
    const res = await api(daemon.socket, 'GET', `/v1.41/distribution/${registry.host}/private/app:1/json`, { 'X-Registry-Auth': auth });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { Descriptor: { digest: string; mediaType: string; size: number }; Platforms: unknown };
    assert.equal(body.Descriptor.digest, digest);
    assert.equal(body.Descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(body.Platforms, [{ architecture: 'amd64', os: 'linux' }]);

    const anon = await api(daemon.socket, 'GET', `/v1.41/distribution/${registry.host}/private/app:1/json`);
    assert.equal(anon.status, 401, anon.body);
    assert.match((JSON.parse(anon.body) as { message: string }).message, /unauthorized: authentication required/);

    const badName = await api(daemon.socket, 'GET', `/v1.41/distribution/${registry.host}/UPPER/json`);
    assert.equal(badName.status, 400, badName.body);
  });

  test('a registry that is down: 500 naming the URL, for /auth and /distribution', async () => {
    const port = await freePort();
    const dist = await api(daemon.socket, 'GET', `/v1.41/distribution/127.0.0.1:${port}/app/json`);
    assert.equal(dist.status, 500, dist.body);
    assert.equal((JSON.parse(dist.body) as { message: string }).message, `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`);
    const login = await runCommand(CLI_MAIN, ['login', '-u', 'a', '--password-stdin', `127.0.0.1:${port}`], { env: env(), input: 'x\n' });
    assert.equal(login.code, 1);
    assert.equal(login.stderr, `Error response from daemon: Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused\n`);
  });

  test('python3-docker: login and inspect_distribution', { skip: pythonDockerSkipReason() }, async () => {
    const result = await runPythonDocker<{ login: { Status: string }; dist: { Descriptor: { digest: string }; Platforms: unknown[] }; bad: string }>(
      daemon.host,
      `
login = client.api.login(username='alice', password='s3cret', registry=${JSON.stringify(registry.host)}, dockercfg_path='/nonexistent/config.json')
dist = client.api.inspect_distribution(${JSON.stringify(`${registry.host}/private/app:1`)}, auth_config={'username': 'alice', 'password': 's3cret'})
try:
    client.api.login(username='alice', password='nope', registry=${JSON.stringify(registry.host)}, reauth=True, dockercfg_path='/nonexistent/config.json')
    bad = 'no error'
except docker.errors.APIError as e:
    bad = '%d %s' % (e.status_code, e.explanation)
print(json.dumps({'login': login, 'dist': dist, 'bad': bad}))`,
    );
    assert.equal(result.login.Status, 'Login Succeeded');
    assert.equal(result.dist.Descriptor.digest, digest);
    assert.deepEqual(result.dist.Platforms, [{ architecture: 'amd64', os: 'linux' }]);
    assert.equal(result.bad, `401 login attempt to http://${registry.host}/v2/ failed with status: 401 Unauthorized`);
  });

  test('berth login on a terminal prompts for the user and a hidden password', { skip: SCRIPT ? false : 'util-linux script is not installed' }, async () => {
    await fs.rm(path.join(configDir, 'config.json'), { force: true });
    const pty = new PtySession(`${CLI_MAIN} login ${registry.host}`, env());
    try {
      await pty.waitFor(/Username: $/);
      pty.write('alice\r');
      await pty.waitFor(/Password: $/);
      pty.write('s3cret\r');
      await pty.waitFor(/Login Succeeded/);
      assert.equal(await pty.exited, 0);
      assert.ok(!pty.output.includes('s3cret'), `the password was echoed: ${JSON.stringify(pty.output)}`);
    } finally {
      pty.kill();
    }
    const config = JSON.parse(await fs.readFile(path.join(configDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(config.auths[registry.host]?.auth, Buffer.from('alice:s3cret').toString('base64'));
    const noTty = await runCommand(CLI_MAIN, ['login', '-u', 'alice', `127.0.0.1:1`], { env: env() });
    assert.equal(noTty.code, 1);
    assert.equal(noTty.stderr, 'Error: Cannot perform an interactive login from a non TTY device\n');
  });

  test('a credential helper named in config.json (credsStore) stores, gives and erases the login', async () => {
    const bin = path.join(configDir, 'bin');
    const store = path.join(configDir, 'helper-store');
    await fs.mkdir(bin, { recursive: true });
    // docker's credential-helper protocol: the action as argument, the server (or JSON) on stdin.
    await fs.writeFile(
      path.join(bin, 'docker-credential-berthtest'),
      `#!/bin/sh\ninput=$(cat)\ncase "$1" in\n  store) printf '%s' "$input" > ${store} ;;\n  get) if [ -f ${store} ]; then cat ${store}; else echo "credentials not found in native keychain"; exit 1; fi ;;\n  erase) [ -f ${store} ] && rm ${store} ;;\nesac\n`,
      { mode: 0o755 },
    );
    await fs.writeFile(path.join(configDir, 'config.json'), JSON.stringify({ credsStore: 'berthtest', psFormat: 'keep me' }));
    const helperEnv = { ...env(), PATH: `${bin}:${process.env.PATH ?? ''}` };
    const login = await runCommand(CLI_MAIN, ['login', '-u', 'alice', '--password-stdin', registry.host], { env: helperEnv, input: 's3cret\n' });
    assert.equal(login.code, 0, login.stderr);
    assert.doesNotMatch(login.stderr, /stored unencrypted/);
    assert.deepEqual(JSON.parse(await fs.readFile(store, 'utf8')), { ServerURL: registry.host, Username: 'alice', Secret: 's3cret' });
    const config = JSON.parse(await fs.readFile(path.join(configDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config, { credsStore: 'berthtest', psFormat: 'keep me' }, 'nothing secret in config.json, other keys kept');
    const again = await runCommand(CLI_MAIN, ['login', registry.host], { env: helperEnv });
    assert.equal(again.stdout, 'Authenticating with existing credentials...\nLogin Succeeded\n', again.stderr);
    const out = await runCommand(CLI_MAIN, ['logout', registry.host], { env: helperEnv });
    assert.equal(out.stdout, `Removing login credentials for ${registry.host}\n`);
    await assert.rejects(fs.stat(store), { code: 'ENOENT' });
  });
});

describe('docker login with token auth through berthd: the identity token is stored and pulls use it', { skip }, () => {
  let tokens: TokenServer;
  let registry: TestRegistry;
  let daemon: TestDaemon;
  let dir: string;
  let digest: string;
  before(async () => {
    tokens = await startTokenServer({ users: { alice: 'pw' }, refreshTokens: true, grant: (user, _repo, actions) => (user === 'alice' ? actions : []) });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-token-login-'));
    await fs.writeFile(path.join(dir, 'ca.pem'), tokens.certPem);
    registry = await startDistributionRegistry({
      config: { auth: { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: path.join(dir, 'ca.pem') } } },
    });
    const image = await memoryImage({ docker: true });
    digest = image.manifestDesc.digest;
    const client = new RegistryClient();
    await pushMemoryImage(client.session(parseDockerRef(`${registry.host}/team/app:1`), { actions: ['pull', 'push'], auth: { username: 'alice', password: 'pw' } }), image, '1');
    client.close();
    daemon = await startTestDaemon({ hostNetwork: true });
  });
  after(async () => {
    await daemon?.stop();
    await registry?.stop();
    await tokens?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('each docker CLI stores the identity token berthd returns, then pulls with it alone', async () => {
    for (const client of DOCKER_CLIENTS) {
      const configDir = await fs.mkdtemp(path.join(dir, 'cfg-'));
      const env = { DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false' };
      const login = await runCommand(client, ['-H', daemon.host, 'login', '-u', 'alice', '--password-stdin', registry.host], { env, input: 'pw\n' });
      assert.equal(login.code, 0, `${client}: ${login.stderr}`);
      const config = JSON.parse(await fs.readFile(path.join(configDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth?: string; identitytoken?: string }> };
      const entry = config.auths[registry.host];
      assert.ok(entry?.identitytoken, `${client} stored ${JSON.stringify(config)}`);
      assert.ok(!Buffer.from(entry.auth ?? '', 'base64').toString().includes('pw'), 'no password next to the identity token');

      const before = tokens.requests.length;
      const pull = await runCommand(client, ['-H', daemon.host, 'pull', `${registry.host}/team/app:1`], { env });
      assert.equal(pull.code, 0, `${client}: ${pull.stderr}${pull.stdout}`);
      assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
      const refreshes = tokens.requests.slice(before).filter((r) => r.method === 'POST' && r.form?.grant_type === 'refresh_token');
      assert.ok(refreshes.length > 0 && refreshes.every((r) => r.user === 'alice'), JSON.stringify(tokens.requests.slice(before)));
      const rmi = await runCommand(client, ['-H', daemon.host, 'rmi', `${registry.host}/team/app:1`], { env });
      assert.equal(rmi.code, 0, rmi.stderr);
    }
  });
});
