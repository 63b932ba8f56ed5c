import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';
import { distributionRegistrySkipReason, startDistributionRegistry, type TestRegistry } from '../helpers/registry';
import { memoryImage, pushMemoryImage, type MemoryImage } from '../helpers/registry-image';
import { RegistryClient } from '../../src/registry/client/hosts';
import { parseDockerRef } from '../../src/images/reference';

/**
 * berthd --registry-mirror: with no internet, a mirror on 127.0.0.1 serves docker.io names,
 * so `docker pull busybox` and `alpine:3.10` work offline through berth.
 */
const skip = needsRoot('needs root (the daemon)') || (distributionRegistrySkipReason() ?? false) || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

describe('docker.io names through a --registry-mirror on loopback', { skip }, () => {
  let mirror: TestRegistry;
  let daemon: TestDaemon;
  const images: Record<string, MemoryImage> = {};
  before(async () => {
    mirror = await startDistributionRegistry();
    const seed = new RegistryClient();
    for (const [repo, tag] of [['library/busybox', 'latest'], ['library/alpine', '3.10']] as const) {
      images[`${repo}:${tag}`] = await memoryImage({ docker: true });
      await pushMemoryImage(seed.session(parseDockerRef(`${mirror.host}/${repo}:${tag}`), { actions: ['pull', 'push'] }), images[`${repo}:${tag}`]!, tag);
    }
    seed.close();
    daemon = await startTestDaemon({ hostNetwork: true, args: ['--registry-mirror', mirror.url] });
  });
  after(async () => {
    await daemon?.stop();
    await mirror?.stop();
  });

  test('docker pull busybox and alpine:3.10 come from the mirror, recorded under their docker.io names', async () => {
    for (const [name, key] of [['busybox', 'library/busybox:latest'], ['alpine:3.10', 'library/alpine:3.10']] as const) {
      const image = images[key]!;
      const pull = await docker(DOCKER_CLIENTS[0]!, daemon.host, ['pull', name]);
      assert.equal(pull.code, 0, pull.stderr + pull.stdout);
      assert.match(pull.stdout, new RegExp(`Digest: ${image.manifestDesc.digest}`));
      const repo = name.split(':')[0]!;
      const inspect = await docker(DOCKER_CLIENTS[0]!, daemon.host, ['image', 'inspect', '--format', '{{json .RepoDigests}} {{.Id}}', name]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.equal(inspect.stdout.trim(), `${JSON.stringify([`${repo}@${image.manifestDesc.digest}`])} ${image.configDesc.digest}`);
    }
  });

  test('a name the mirror lacks falls through to Docker Hub, as dockerd does, and fails there', async () => {
    const pull = await docker(DOCKER_CLIENTS[0]!, daemon.host, ['pull', 'nosuchimage:1'], { timeoutMs: 60_000 });
    assert.equal(pull.code, 1, pull.stdout);
    // Offline: Hub's address does not resolve; online: Hub refuses the unknown name.
    assert.match(pull.stderr, /^Error response from daemon: (Get "https:\/\/registry-1\.docker\.io\/v2\/": |.*nosuchimage)/);
  });
});
