import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_CLIENTS, docker, runCommand } from '../../helpers/cli';
import { forwardIntoNetns, type NetnsForward } from '../../helpers/netns-forward';
import { podmanSkipReason, startPrivatePodman, type PrivatePodman } from '../../helpers/podman';
import { privateDockerdSkipReason, startPrivateDockerd, type PrivateDockerd } from '../../helpers/private-dockerd';
import type { PrivateNetns } from '../../helpers/private-netns';
import { berthRegistrySkipReason, startBerthRegistry, type TestRegistry } from '../../helpers/registry';
import { needsRoot, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';
import { writeOciLayout, type LayoutImage } from '../../helpers/oci-layout';

/**
 * `berth registry serve` over HTTPS with a certificate real clients must verify: berthd
 * (driven by docker CLI 28) with its CA in `--registry-certs-dir` (dockerd's certs.d layout),
 * a private dockerd with it in /etc/docker/certs.d (its own mount of a temp folder there),
 * and podman with `--cert-dir`. The registry is reached at 10.254.0.1 inside each client's
 * network namespace (an address on its loopback, forwarded to the registry on the host's
 * 127.0.0.1): a loopback registry would count as insecure and skip verification.
 */
const OPENSSL = '/usr/bin/openssl';
const SKOPEO = '/usr/bin/skopeo';
const ADDRESS = '10.254.0.1';
const skip = needsRoot() || berthRegistrySkipReason() || (!existsSync(OPENSSL) && 'openssl is not installed') || (!existsSync(SKOPEO) && 'skopeo is not installed') || false;

let dir: string;
let registry: TestRegistry;
let image: LayoutImage;
/** A folder holding the CA as `ca.crt` (containers/image and dockerd read *.crt). */
let caDir: string;
let name: string;

/** Gives `netns` the address ADDRESS on its loopback, answering for the registry. */
async function reachRegistryAt(netns: PrivateNetns): Promise<NetnsForward> {
  const cmd = netns.command('ip', ['addr', 'add', `${ADDRESS}/32`, 'dev', 'lo']);
  const added = await runCommand(cmd.file, cmd.args);
  assert.equal(added.code, 0, added.stderr);
  return forwardIntoNetns(netns, registry.port, ADDRESS);
}

before(async () => {
  if (skip) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tlsc-'));
  const cert = { certificate: path.join(dir, 'registry.crt'), key: path.join(dir, 'registry.key') };
  const made = await runCommand(OPENSSL, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${ADDRESS}`, '-addext', `subjectAltName=IP:${ADDRESS},IP:127.0.0.1`, '-keyout', cert.key, '-out', cert.certificate], { timeoutMs: 60_000 });
  assert.equal(made.code, 0, made.stderr);
  caDir = path.join(dir, 'ca');
  await fs.mkdir(caDir);
  await fs.copyFile(cert.certificate, path.join(caDir, 'ca.crt'));
  registry = await startBerthRegistry({ tls: cert });
  name = `${ADDRESS}:${registry.port}`;
  image = await writeOciLayout(path.join(dir, 'src'), 'v1', [{ 'etc/hello': 'hello over verified TLS\n' }]);
  const push = await runCommand(SKOPEO, ['--insecure-policy', 'copy', '--dest-cert-dir', caDir, `oci:${path.join(dir, 'src')}:v1`, `docker://127.0.0.1:${registry.port}/tls/app:v1`], { env: { REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') }, timeoutMs: 120_000 });
  assert.equal(push.code, 0, push.stderr);
});

after(async () => {
  if (skip) return;
  await registry?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('berthd with the CA in --registry-certs-dir, driven by docker CLI 28', { skip: skip || (DOCKER_CLIENTS.length === 0 && 'no docker CLI') || false }, () => {
  let daemon: TestDaemon;
  let certsDir: string;
  let forward: NetnsForward;
  before(async () => {
    certsDir = path.join(dir, 'certs.d');
    await fs.mkdir(certsDir);
    daemon = await startTestDaemon({ args: ['--registry-certs-dir', certsDir] });
    forward = await reachRegistryAt(daemon.netns!);
  });
  after(async () => {
    await forward?.close();
    await daemon?.stop();
  });

  test('refuses the unknown certificate, then pulls and pushes once the CA is in <certs-dir>/<host:port>/', async () => {
    const client = DOCKER_CLIENTS[0]!;
    const refused = await docker(client, daemon.host, ['pull', `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`https://${name.replace(/\./g, '\\.')}/v2/`));
    assert.match(refused.stderr, /certificate/i);

    await fs.mkdir(path.join(certsDir, name));
    await fs.copyFile(path.join(caDir, 'ca.crt'), path.join(certsDir, name, 'ca.crt'));
    const pull = await docker(client, daemon.host, ['pull', `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: ${image.manifestDigest}`));

    assert.equal((await docker(client, daemon.host, ['tag', `${name}/tls/app:v1`, `${name}/tls/pushed:v2`])).code, 0);
    const push = await docker(client, daemon.host, ['push', `${name}/tls/pushed:v2`], { timeoutMs: 120_000 });
    assert.equal(push.code, 0, push.stderr + push.stdout);
    assert.match(push.stdout, /v2: digest: sha256:[0-9a-f]{64}/);

    // A client key without its certificate is named, as dockerd names it.
    await fs.writeFile(path.join(certsDir, name, 'client.key'), 'not used');
    const broken = await docker(client, daemon.host, ['pull', `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /missing client certificate client\.cert for key client\.key/);
  });
});

describe('podman with --cert-dir', { skip: skip || podmanSkipReason() || false }, () => {
  let podman: PrivatePodman;
  let forward: NetnsForward;
  before(async () => {
    podman = await startPrivatePodman();
    forward = await reachRegistryAt(podman.netns);
  });
  after(async () => {
    await forward?.close();
    await podman?.stop();
  });

  test('verifies the registry with the CA given, and refuses it without', async () => {
    const refused = await podman.podman(['pull', '-q', `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /x509: certificate signed by unknown authority/);
    const pull = await podman.podman(['pull', '-q', '--tls-verify=true', '--cert-dir', caDir, `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.equal(pull.code, 0, pull.stderr);
    const digest = await podman.podman(['image', 'inspect', '--format', '{{.Digest}}', `${name}/tls/app:v1`]);
    assert.equal(digest.stdout.trim(), image.manifestDigest);
  });
});

describe('a private dockerd with the CA in /etc/docker/certs.d, driven by docker CLI 28', { skip: skip || privateDockerdSkipReason() || (!existsSync('/etc/docker') && 'no /etc/docker to mount over') || (DOCKER_CLIENTS.length === 0 && 'no docker CLI') || false }, () => {
  let dockerd: PrivateDockerd;
  let forward: NetnsForward;
  let etcDocker: string;
  before(async () => {
    etcDocker = path.join(dir, 'etc-docker');
    await fs.mkdir(path.join(etcDocker, 'certs.d', name), { recursive: true });
    await fs.copyFile(path.join(caDir, 'ca.crt'), path.join(etcDocker, 'certs.d', name, 'ca.crt'));
    dockerd = await startPrivateDockerd({ etcDocker });
    forward = await reachRegistryAt(dockerd.netns);
  });
  after(async () => {
    await forward?.close();
    await dockerd?.stop();
  });

  test('pulls what skopeo pushed and pushes over verified TLS; without the CA it refuses', async () => {
    const client = DOCKER_CLIENTS[0]!;
    const pull = await docker(client, dockerd.host, ['pull', `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: ${image.manifestDigest}`));
    assert.equal((await docker(client, dockerd.host, ['tag', `${name}/tls/app:v1`, `${name}/tls/from-dockerd:v1`])).code, 0);
    const push = await docker(client, dockerd.host, ['push', `${name}/tls/from-dockerd:v1`], { timeoutMs: 120_000 });
    assert.equal(push.code, 0, push.stderr + push.stdout);
    await fs.rm(path.join(etcDocker, 'certs.d', name), { recursive: true });
    assert.equal((await docker(client, dockerd.host, ['rmi', `${name}/tls/app:v1`])).code, 0);
    const refused = await docker(client, dockerd.host, ['pull', `${name}/tls/app:v1`], { timeoutMs: 120_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /x509: certificate signed by unknown authority/);
  });
});
