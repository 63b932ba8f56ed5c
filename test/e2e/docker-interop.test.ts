import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';
import { PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';

const skip = needsRoot('needs root (runc, overlay mounts)') || (privateDockerdSkipReason() ?? false);

/** Images move between berth and a real dockerd (a private one, so CI runs this too). */
describe('image interop with a real dockerd: save | load both ways', { skip }, () => {
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd;
  let busyboxId: string;

  before(async () => {
    [daemon, dockerd] = await Promise.all([startTestDaemon(), startPrivateDockerd()]);
    await bootstrapBusybox(daemon);
    busyboxId = (await berth(daemon.host, ['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    assert.match(busyboxId, /^sha256:[a-f0-9]{64}$/);
  });
  after(async () => {
    await Promise.all([daemon?.stop(), dockerd?.stop()]);
  });

  it('berth save busybox | docker load, then docker run works there (each docker client)', async () => {
    const archive = (await berth(daemon.host, ['save', 'busybox'])).stdoutBytes;
    for (const client of DOCKER_CLIENTS) {
      await docker(client, dockerd.host, ['rmi', '-f', 'busybox']);
      const loaded = await docker(client, dockerd.host, ['load'], { input: archive });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /Loaded image: busybox:latest/);
      const id = await docker(client, dockerd.host, ['image', 'inspect', '-f', '{{.Id}}', 'busybox']);
      assert.equal(id.stdout.trim(), busyboxId, `${client}: dockerd computes the same image id`);
      const ran = await docker(client, dockerd.host, ['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hello from dockerd']);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, 'hello from dockerd\n');
    }
  });

  it('docker save from dockerd | berth load gives the same image id (each docker client)', async () => {
    for (const client of DOCKER_CLIENTS) {
      await docker(client, dockerd.host, ['tag', 'busybox', 'from-docker:1']);
      const saved = (await docker(client, dockerd.host, ['save', 'from-docker:1'])).stdoutBytes;
      const loaded = await berth(daemon.host, ['load'], { input: saved });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /Loaded image: from-docker:1/);
      const id = await berth(daemon.host, ['image', 'inspect', '-f', '{{.Id}}', 'from-docker:1']);
      assert.equal(id.stdout.trim(), busyboxId);
      // The docker client can load into berth as well.
      await berth(daemon.host, ['rmi', 'from-docker:1']);
      const viaDocker = await docker(client, daemon.host, ['load'], { input: saved });
      assert.equal(viaDocker.code, 0, viaDocker.stderr);
      const ran = await docker(client, daemon.host, ['run', '--rm', 'from-docker:1', 'echo', 'back in berth']);
      assert.equal(ran.stdout, 'back in berth\n', ran.stderr);
      await berth(daemon.host, ['rmi', 'from-docker:1']);
      await docker(client, dockerd.host, ['rmi', 'from-docker:1']);
    }
  });
});
