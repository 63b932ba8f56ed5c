import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import { makeFixtureImage, writeDockerArchive, FixtureImage } from '../../helpers/fixture-image';
import { podmanSkipReason, podmanWithRegistry } from '../../helpers/podman';
import { privateDockerdSkipReason, startPrivateDockerd, PrivateDockerd } from '../../helpers/private-dockerd';
import { distributionRegistrySkipReason, startDistributionRegistry, TestRegistry } from '../../helpers/registry';
import { needsRoot } from '../../helpers/root';
import { mustSucceed, skopeoCopy, skopeoInspect, skopeoSkipReason } from '../../helpers/skopeo';

/**
 * The registry test fixtures against the real peers alone (no berth code): the fixture
 * image is well-formed and repeatable, Debian's docker-registry takes it from skopeo with
 * htpasswd auth, and a private dockerd and podman (each in its own network namespace,
 * reaching the registry through netns-forward) pull and run it and push to it. The berth
 * rows of the interop matrix build on these (interop-berth.test.ts).
 */

const SMALL_LAYERS = [1_000_000, 2_000_000];
const USER = { username: 'tester', password: 's3cret-pass' };
const CREDS = `${USER.username}:${USER.password}`;

function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    }).on('error', reject);
  });
}

describe('fixture image', () => {
  let tmp: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fx-'));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('is repeatable, and every layer decompresses to its diffID', async () => {
    const a = await makeFixtureImage(path.join(tmp, 'a'), { dataLayers: SMALL_LAYERS });
    const b = await makeFixtureImage(path.join(tmp, 'b'), { dataLayers: SMALL_LAYERS });
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.equal(a.layers.length, 3);
    const other = await makeFixtureImage(path.join(tmp, 'c'), { dataLayers: SMALL_LAYERS, seed: 'another' });
    assert.equal(other.layers[0]!.digest, a.layers[0]!.digest, 'the busybox layer does not depend on the seed');
    assert.notEqual(other.layers[1]!.digest, a.layers[1]!.digest);

    const config = JSON.parse((await a.blob(a.configDigest)).toString()) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(config.rootfs.diff_ids, a.layers.map((l) => l.diffId));
    for (const layer of a.layers) {
      const blob = await a.blob(layer.digest);
      assert.equal(`sha256:${createHash('sha256').update(blob).digest('hex')}`, layer.digest);
      assert.equal(blob.length, layer.size);
      const tar = zlib.gunzipSync(blob);
      assert.equal(`sha256:${createHash('sha256').update(tar).digest('hex')}`, layer.diffId);
    }
    // Random data does not compress: the data layers are about their payload's size.
    assert.ok(a.layers[2]!.size > SMALL_LAYERS[1]!);

    const manifest = JSON.parse((await a.blob(a.manifestDigest)).toString()) as { mediaType: string; layers: Array<{ mediaType: string }> };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const index = JSON.parse(await fs.readFile(path.join(a.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(index.manifests[0]!.digest, a.manifestDigest);

    const docker = await makeFixtureImage(path.join(tmp, 'd'), { dataLayers: [1000], format: 'docker', compression: 'none' });
    const dm = JSON.parse((await docker.blob(docker.manifestDigest)).toString()) as { mediaType: string; layers: Array<{ mediaType: string; digest: string }> };
    assert.equal(dm.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(dm.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar');
    assert.equal(docker.layers[0]!.digest, docker.layers[0]!.diffId, 'an uncompressed layer is its own diffID');
  });
});

describe('Debian docker-registry with real peers', { skip: needsRoot() || distributionRegistrySkipReason() || skopeoSkipReason() || false }, () => {
  let tmp: string;
  let image: FixtureImage;
  let registry: TestRegistry;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ip-'));
    image = await makeFixtureImage(path.join(tmp, 'layout'), { dataLayers: SMALL_LAYERS });
    registry = await startDistributionRegistry({ users: [USER] });
  });
  after(async () => {
    await registry?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('asks for credentials, and skopeo pushes the fixture with them, manifest unchanged', async () => {
    const anonymous = await get(`${registry.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="berth-test"/);
    const denied = await skopeoCopy(image.skopeoRef, `docker://${registry.host}/fixture/app:1`, { creds: `${USER.username}:wrong` });
    assert.notEqual(denied.code, 0);
    mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/fixture/app:1`, { creds: CREDS }), 'skopeo copy to the registry');
    const raw = await skopeoInspect(`docker://${registry.host}/fixture/app:1`, { raw: true, creds: CREDS });
    assert.deepEqual(raw, JSON.parse((await image.blob(image.manifestDigest)).toString()));
    const info = await skopeoInspect(`docker://${registry.host}/fixture/app:1`, { creds: CREDS });
    assert.equal(info.Digest, image.manifestDigest);
  });

  describe('private dockerd', { skip: privateDockerdSkipReason() ?? false }, () => {
    let dockerd: PrivateDockerd;
    let dockerConfig: string;
    const docker = (args: string[], input?: string) =>
      runCommand(DOCKER_CLIENTS[0]!, ['-H', dockerd.host, ...args], { input, env: { DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' }, timeoutMs: 180_000 });
    before(async () => {
      dockerConfig = path.join(tmp, 'docker-config');
      await fs.mkdir(dockerConfig);
      dockerd = await startPrivateDockerd();
      await registry.exposeIn(dockerd.netns);
    });
    after(async () => {
      await dockerd?.stop();
    });

    test('logs in, pulls and runs what skopeo pushed, and pushes busybox back', async () => {
      mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/fixture/app:2`, { creds: CREDS }), 'skopeo copy');
      const login = await docker(['login', '-u', USER.username, '--password-stdin', registry.host], USER.password);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded/);
      const pull = await docker(['pull', `${registry.host}/fixture/app:2`]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.ok(pull.stdout.includes(`Digest: ${image.manifestDigest}`), pull.stdout);
      const inspect = await docker(['image', 'inspect', '--format', '{{.Id}}', `${registry.host}/fixture/app:2`]);
      assert.equal(inspect.stdout.trim(), image.imageId);
      const run = await docker(['run', '--rm', '--network', 'none', `${registry.host}/fixture/app:2`, 'sh', '-c', 'wc -c < /data/layer-1.bin']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), String(SMALL_LAYERS[1]));

      const archive = path.join(tmp, 'busybox.tar');
      const busybox = await makeFixtureImage(path.join(tmp, 'busybox'));
      await writeDockerArchive(busybox, archive, 'fixture/busybox:latest');
      assert.equal((await docker(['load', '-i', archive])).code, 0);
      assert.equal((await docker(['tag', 'fixture/busybox:latest', `${registry.host}/from-docker/busybox:latest`])).code, 0);
      const push = await docker(['push', `${registry.host}/from-docker/busybox:latest`]);
      assert.equal(push.code, 0, push.stderr);
      const pushed = await skopeoInspect(`docker://${registry.host}/from-docker/busybox:latest`, { config: true, creds: CREDS });
      assert.deepEqual((pushed.rootfs as { diff_ids: string[] }).diff_ids, busybox.layers.map((l) => l.diffId));
    });
  });

  describe('podman', { skip: podmanSkipReason() ?? false }, () => {
    const podman = podmanWithRegistry(() => registry);

    test('logs in, pulls and runs the fixture with only runc, conmon and cgroupfs', async () => {
      mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/fixture/app:3`, { creds: CREDS }), 'skopeo copy');
      const login = await podman().podman(['login', '--tls-verify=false', '-u', USER.username, '--password-stdin', registry.host], { input: USER.password });
      assert.equal(login.code, 0, login.stderr);
      const pull = await podman().podman(['pull', '-q', '--tls-verify=false', `${registry.host}/fixture/app:3`]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.equal(`sha256:${pull.stdout.trim()}`, image.imageId);
      const run = await podman().podman(['run', '--rm', '--pull=never', `${registry.host}/fixture/app:3`, 'sh', '-c', 'wc -c < /data/layer-0.bin']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), String(SMALL_LAYERS[0]));
    });
  });
});
