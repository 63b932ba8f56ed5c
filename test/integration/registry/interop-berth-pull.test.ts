import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import { makeFixtureImage, writeDockerArchive, FixtureImage } from '../../helpers/fixture-image';
import { podmanSkipReason, startPrivatePodman, PrivatePodman } from '../../helpers/podman';
import { privateDockerdSkipReason, startPrivateDockerd, PrivateDockerd } from '../../helpers/private-dockerd';
import { berthRegistrySkipReason, distributionRegistrySkipReason, startBerthRegistry, startDistributionRegistry, TestRegistry } from '../../helpers/registry';
import { needsRoot } from '../../helpers/root';
import { mustSucceed, skopeoCopy, skopeoInspect, skopeoSkipReason } from '../../helpers/skopeo';
import { startTestDaemon, TestDaemon } from '../../helpers/test-daemon';
import { dockerPeer, DockerPeer, ok } from './peers';

/**
 * berth's engine against real registries and real peers, both ways:
 *  - berthd pulls and runs what skopeo (an OCI manifest) and dockerd (a Docker schema 2
 *    manifest it compressed itself) pushed, to Debian's docker-registry and to berth's own;
 *  - berthd pushes, and dockerd, podman and skopeo pull (and run) what it pushed.
 * berthd runs in its own network namespace, like the private dockerd and podman; each
 * registry (on the host's 127.0.0.1) is forwarded into every namespace at the same address.
 * The docker CLI 28 drives berthd, as users do.
 */

const LAYERS = [1_200_000, 2_500_000];
const CLIENT = DOCKER_CLIENTS[0];

const KINDS: Array<{ kind: TestRegistry['kind']; skip: string | undefined; start: () => Promise<TestRegistry> }> = [
  { kind: 'distribution', skip: distributionRegistrySkipReason(), start: () => startDistributionRegistry() },
  { kind: 'berth', skip: berthRegistrySkipReason(), start: () => startBerthRegistry() },
];

describe('berthd pulls from and pushes to real registries, with real peers', { skip: needsRoot() || skopeoSkipReason() || (CLIENT ? false : 'no docker CLI installed') }, () => {
  let tmp: string;
  let image: FixtureImage;
  let pushedByDocker: FixtureImage;
  let archive: string;
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd | undefined;
  let docker: DockerPeer | undefined;
  let podman: PrivatePodman | undefined;
  let berthConfig: string;
  const berth = (args: string[], input?: string) =>
    runCommand(CLIENT!, ['-H', daemon.host, ...args], { input, env: { DOCKER_CONFIG: berthConfig, DOCKER_CLI_HINTS: 'false' }, timeoutMs: 180_000 });

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-'));
    berthConfig = await fs.mkdtemp(path.join(tmp, 'berth-config-'));
    image = await makeFixtureImage(path.join(tmp, 'layout'), { dataLayers: LAYERS });
    pushedByDocker = await makeFixtureImage(path.join(tmp, 'docker-image'), { dataLayers: [900_000], seed: 'pushed-by-dockerd', format: 'docker' });
    archive = path.join(tmp, 'docker-image.tar');
    await writeDockerArchive(pushedByDocker, archive, 'fixture/app:docker');
    daemon = await startTestDaemon();
    if (!privateDockerdSkipReason()) {
      dockerd = await startPrivateDockerd();
      docker = await dockerPeer(dockerd, tmp);
      ok(await docker.run(['load', '-i', archive]), 'docker load');
    }
    if (!podmanSkipReason()) podman = await startPrivatePodman();
  });
  after(async () => {
    await podman?.stop();
    await dockerd?.stop();
    await daemon?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  for (const { kind, skip, start } of KINDS) {
    const name = kind === 'berth' ? "berth's registry" : "Debian's docker-registry";
    describe(name, { skip: skip ?? false }, () => {
      let registry: TestRegistry;
      before(async () => {
        registry = await start();
        await registry.exposeIn(daemon.netns!);
        if (dockerd) await registry.exposeIn(dockerd.netns);
        if (podman) await registry.exposeIn(podman.netns);
      });
      after(async () => {
        await registry?.stop();
      });

      test(`berthd pulls and runs what skopeo pushed to ${name} (OCI manifest)`, async () => {
        const ref = `${registry.host}/skopeo/app:1`;
        mustSucceed(await skopeoCopy(image.skopeoRef, `docker://${ref}`), 'skopeo copy');
        const pull = ok(await berth(['pull', ref]), 'berth pull');
        assert.ok(pull.stdout.includes(`Digest: ${image.manifestDigest}`), pull.stdout);
        assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}`));
        const inspect = JSON.parse(ok(await berth(['image', 'inspect', ref]), 'inspect').stdout) as Array<{ Id: string; RepoDigests: string[]; RootFS: { Layers: string[] } }>;
        assert.equal(inspect[0]!.Id, image.imageId);
        // The same image pulled from the other registry keeps that repo digest too, as in docker.
        assert.ok(inspect[0]!.RepoDigests.includes(`${registry.host}/skopeo/app@${image.manifestDigest}`), inspect[0]!.RepoDigests.join(', '));
        assert.deepEqual(inspect[0]!.RootFS.Layers, image.layers.map((l) => l.diffId));
        const run = ok(await berth(['run', '--rm', ref, 'sh', '-c', 'wc -c < /data/layer-0.bin; wc -c < /data/layer-1.bin']), 'berth run');
        assert.deepEqual(run.stdout.trim().split('\n'), LAYERS.map(String));
        const again = ok(await berth(['pull', ref]), 'berth pull again');
        assert.match(again.stdout, /Status: Image is up to date for /);
      });

      test(`berthd pulls and runs what dockerd pushed to ${name} (schema 2, layers docker compressed)`, { skip: privateDockerdSkipReason() ?? false }, async () => {
        const ref = `${registry.host}/from-docker/app:1`;
        ok(await docker!.run(['tag', 'fixture/app:docker', ref]), 'docker tag');
        const push = ok(await docker!.run(['push', ref]), 'docker push');
        const digest = /1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
        assert.ok(digest, push.stdout);
        const pull = ok(await berth(['pull', ref]), 'berth pull');
        assert.ok(pull.stdout.includes(`Digest: ${digest}`), pull.stdout);
        const id = ok(await berth(['image', 'inspect', '--format', '{{.Id}}', ref]), 'inspect').stdout.trim();
        assert.equal(id, pushedByDocker.imageId);
        const run = ok(await berth(['run', '--rm', ref, 'sh', '-c', 'wc -c < /data/layer-0.bin']), 'berth run');
        assert.equal(run.stdout.trim(), '900000');
      });

      test(`berthd pushes to ${name}; skopeo, dockerd and podman pull it and run it`, async () => {
        const source = `${registry.host}/skopeo/app:1`;
        const ref = `${registry.host}/from-berth/app:1`;
        ok(await berth(['pull', source]), 'berth pull');
        ok(await berth(['tag', source, ref]), 'berth tag');
        const push = ok(await berth(['push', ref]), 'berth push');
        const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push.stdout)?.[1];
        assert.ok(digest, push.stdout);
        const info = await skopeoInspect(`docker://${ref}`);
        assert.equal(info.Digest, digest);
        const config = await skopeoInspect(`docker://${ref}`, { config: true });
        assert.deepEqual((config.rootfs as { diff_ids: string[] }).diff_ids, image.layers.map((l) => l.diffId));
        if (docker) {
          const pull = ok(await docker.run(['pull', ref]), 'docker pull');
          assert.ok(pull.stdout.includes(`Digest: ${digest}`), pull.stdout);
          const run = ok(await docker.run(['run', '--rm', '--network', 'none', ref, 'sh', '-c', 'wc -c < /data/layer-1.bin']), 'docker run');
          assert.equal(run.stdout.trim(), String(LAYERS[1]));
        }
        if (podman) {
          const pull = ok(await podman.podman(['pull', '-q', '--tls-verify=false', ref]), 'podman pull');
          assert.equal(`sha256:${pull.stdout.trim()}`, image.imageId);
          const run = ok(await podman.podman(['run', '--rm', '--pull=never', ref, 'sh', '-c', 'wc -c < /data/layer-0.bin']), 'podman run');
          assert.equal(run.stdout.trim(), String(LAYERS[0]));
        }
      });
    });
  }
});
