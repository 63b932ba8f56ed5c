import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeFixtureImage, writeDockerArchive, FixtureImage } from '../../helpers/fixture-image';
import { podmanSkipReason, podmanWithRegistry } from '../../helpers/podman';
import { privateDockerdSkipReason, startPrivateDockerd, PrivateDockerd } from '../../helpers/private-dockerd';
import { berthRegistrySkipReason, startBerthRegistry, TestRegistry } from '../../helpers/registry';
import { needsRoot } from '../../helpers/root';
import { mustSucceed, skopeoCopy, skopeoInspect, skopeoSkipReason } from '../../helpers/skopeo';
import { dockerPeer, DockerPeer, ok } from './peers';

/**
 * berth's registry (`berth registry serve`, the CLI as users run it) with real clients on
 * loopback: skopeo pushes and copies back, a private dockerd and podman (each in its own
 * network namespace, the registry forwarded in) pull and run what was pushed, and push
 * images of their own, which the other peers read back.
 */

const SMALL_LAYERS = [1_500_000, 3_000_000];

describe("berth's registry with real peers", { skip: needsRoot() || berthRegistrySkipReason() || skopeoSkipReason() || false }, () => {
  let tmp: string;
  let image: FixtureImage;
  let busybox: FixtureImage;
  let busyboxArchive: string;
  let registry: TestRegistry;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ib-'));
    image = await makeFixtureImage(path.join(tmp, 'layout'), { dataLayers: SMALL_LAYERS });
    // busybox with a small layer of its own: a layer no other repository has, for the push tests.
    busybox = await makeFixtureImage(path.join(tmp, 'busybox'), { format: 'docker', dataLayers: [700_000], seed: 'pushed-by-peers' });
    busyboxArchive = path.join(tmp, 'busybox.tar');
    await writeDockerArchive(busybox, busyboxArchive, 'fixture/busybox:latest');
    registry = await startBerthRegistry();
  });
  after(async () => {
    await registry?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('skopeo pushes an OCI image and copies it back byte for byte, and copies between repositories', async () => {
    mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/skopeo/app:1`), 'skopeo copy to berth');
    const raw = await skopeoInspect(`docker://${registry.host}/skopeo/app:1`, { raw: true });
    assert.deepEqual(raw, JSON.parse((await image.blob(image.manifestDigest)).toString()));
    assert.equal((await skopeoInspect(`docker://${registry.host}/skopeo/app:1`)).Digest, image.manifestDigest);

    const back = path.join(tmp, 'back');
    mustSucceed(await skopeoCopy(`docker://${registry.host}/skopeo/app:1`, `oci:${back}:copy`), 'skopeo copy from berth');
    for (const layer of image.layers) {
      assert.deepEqual(await fs.readFile(path.join(back, 'blobs', 'sha256', layer.digest.slice(7))), await image.blob(layer.digest), `layer ${layer.digest}`);
    }

    // Registry to registry: skopeo mounts or re-uploads the blobs into another repository.
    mustSucceed(await skopeoCopy(`docker://${registry.host}/skopeo/app:1`, `docker://${registry.host}/other/app:copied`), 'skopeo copy between repositories');
    assert.equal((await skopeoInspect(`docker://${registry.host}/other/app:copied`)).Digest, image.manifestDigest);
    const tags = await skopeoInspect(`docker://${registry.host}/skopeo/app:1`);
    assert.deepEqual(tags.RepoTags, ['1']);
  });

  describe('private dockerd', { skip: privateDockerdSkipReason() ?? false }, () => {
    let dockerd: PrivateDockerd;
    let docker: DockerPeer;
    before(async () => {
      dockerd = await startPrivateDockerd();
      docker = await dockerPeer(dockerd, tmp);
      await registry.exposeIn(dockerd.netns);
    });
    after(async () => {
      await dockerd?.stop();
    });

    test('pulls and runs what skopeo pushed', async () => {
      mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/skopeo/app:2`), 'skopeo copy');
      const pull = ok(await docker.run(['pull', `${registry.host}/skopeo/app:2`]), 'docker pull');
      assert.ok(pull.stdout.includes(`Digest: ${image.manifestDigest}`), pull.stdout);
      assert.equal(ok(await docker.run(['image', 'inspect', '--format', '{{.Id}}', `${registry.host}/skopeo/app:2`]), 'inspect').stdout.trim(), image.imageId);
      const run = ok(await docker.run(['run', '--rm', '--network', 'none', `${registry.host}/skopeo/app:2`, 'sh', '-c', 'wc -c < /data/layer-1.bin']), 'docker run');
      assert.equal(run.stdout.trim(), String(SMALL_LAYERS[1]));
    });

    test('pushes (upload, then "Layer already exists", then a mount from another repository), and skopeo reads it back', async () => {
      ok(await docker.run(['load', '-i', busyboxArchive]), 'docker load');
      ok(await docker.run(['tag', 'fixture/busybox:latest', `${registry.host}/from-docker/busybox:1`]), 'docker tag');
      const first = ok(await docker.run(['push', `${registry.host}/from-docker/busybox:1`]), 'docker push');
      const own = busybox.layers[1]!.diffId.slice(7, 19);
      assert.match(first.stdout, new RegExp(`^${own}: Pushed$`, 'm'));
      const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(first.stdout)?.[1];
      assert.ok(digest, first.stdout);

      const again = ok(await docker.run(['push', `${registry.host}/from-docker/busybox:1`]), 'docker push again');
      assert.match(again.stdout, /Layer already exists/);
      assert.doesNotMatch(again.stdout, /: Pushed$/m);

      ok(await docker.run(['tag', 'fixture/busybox:latest', `${registry.host}/elsewhere/busybox:1`]), 'docker tag');
      const mounted = ok(await docker.run(['push', `${registry.host}/elsewhere/busybox:1`]), 'docker push to another repository');
      assert.match(mounted.stdout, new RegExp(`^${own}: Mounted from from-docker/busybox$`, 'm'));

      const info = await skopeoInspect(`docker://${registry.host}/from-docker/busybox:1`);
      assert.equal(info.Digest, digest);
      const config = await skopeoInspect(`docker://${registry.host}/elsewhere/busybox:1`, { config: true });
      assert.deepEqual((config.rootfs as { diff_ids: string[] }).diff_ids, busybox.layers.map((l) => l.diffId));
      // What docker pushed, docker pulls back after forgetting it.
      ok(await docker.run(['rmi', `${registry.host}/from-docker/busybox:1`, `${registry.host}/elsewhere/busybox:1`, 'fixture/busybox:latest']), 'docker rmi');
      const pull = ok(await docker.run(['pull', `${registry.host}/elsewhere/busybox:1`]), 'docker pull');
      assert.ok(pull.stdout.includes(`Digest: ${digest}`), pull.stdout);
    });
  });

  describe('podman', { skip: podmanSkipReason() ?? false }, () => {
    const podman = podmanWithRegistry(() => registry);

    test('pulls and runs what skopeo pushed, pushes an image, and skopeo reads it back', async () => {
      mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${registry.host}/skopeo/app:3`), 'skopeo copy');
      const pull = ok(await podman().podman(['pull', '-q', '--tls-verify=false', `${registry.host}/skopeo/app:3`]), 'podman pull');
      assert.equal(`sha256:${pull.stdout.trim()}`, image.imageId);
      const run = ok(await podman().podman(['run', '--rm', '--pull=never', `${registry.host}/skopeo/app:3`, 'sh', '-c', 'wc -c < /data/layer-0.bin']), 'podman run');
      assert.equal(run.stdout.trim(), String(SMALL_LAYERS[0]));

      ok(await podman().podman(['load', '-q', '-i', busyboxArchive]), 'podman load');
      ok(await podman().podman(['push', '-q', '--tls-verify=false', 'fixture/busybox:latest', `${registry.host}/from-podman/busybox:1`]), 'podman push');
      const config = await skopeoInspect(`docker://${registry.host}/from-podman/busybox:1`, { config: true });
      assert.deepEqual((config.rootfs as { diff_ids: string[] }).diff_ids, busybox.layers.map((l) => l.diffId));
    });
  });
});
