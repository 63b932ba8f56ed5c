import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)');

/** `commit` as dockerd allows it: on a running, exiting, exited or paused container. */
describe('commit in every container state (dockerode, docker CLI)', { skip }, () => {
  let daemon: TestDaemon;
  let client: Docker;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    client = new Docker({ socketPath: daemon.socket });
  });
  after(async () => {
    await daemon?.stop();
  });

  /** Whether `path` exists in `image`, seen through a created (never started) container. */
  async function imageHas(image: string, path: string): Promise<boolean> {
    const probe = await client.createContainer({ Image: image, Cmd: ['true'] });
    try {
      await probe.infoArchive({ path });
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    } finally {
      await probe.remove();
    }
  }

  it('commits at once after start: the process is exiting or has exited (12 times)', async () => {
    for (let i = 0; i < 12; i++) {
      const container = await client.createContainer({ Image: 'busybox', Cmd: ['touch', '/test'] });
      await container.start();
      const committed = (await container.commit({ repo: 'after-exit', tag: String(i) })) as { Id: string };
      assert.match(committed.Id, /^sha256:[0-9a-f]{64}$/, `try ${i}`);
      assert.equal(await imageHas(committed.Id, '/test'), true, `try ${i}: /test is in the committed image`);
      const state = (await container.wait()) as { StatusCode: number };
      assert.equal(state.StatusCode, 0);
      assert.equal((await container.inspect()).State.Status, 'exited');
      await container.remove();
    }
  });

  it('commits a running container (paused for the copy, running after) and a paused one (left paused)', async () => {
    const container = await client.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo up > /running; exec sleep 1000'] });
    await container.start();
    const exec = await container.exec({ Cmd: ['cat', '/running'], AttachStdout: true });
    // Wait until the shell wrote its file, through the container itself.
    for (let i = 0; i < 100; i++) {
      const stream = await exec.start({ hijack: true, stdin: false });
      stream.resume();
      await new Promise((resolve) => stream.once('end', resolve));
      if ((await exec.inspect()).ExitCode === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const events = await client.getEvents({ filters: { event: ['pause', 'unpause'] } });
    const seen: string[] = [];
    events.on('data', (chunk: Buffer) => seen.push(...chunk.toString().trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action)));
    const running = (await container.commit()) as { Id: string };
    assert.equal(await imageHas(running.Id, '/running'), true);
    assert.equal((await container.inspect()).State.Status, 'running');
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    (events as unknown as { destroy(): void }).destroy();
    assert.deepEqual(seen, ['pause', 'unpause'], 'a running container is paused for the commit');

    await container.pause();
    const paused = (await container.commit()) as { Id: string };
    assert.equal(await imageHas(paused.Id, '/running'), true);
    assert.equal((await container.inspect()).State.Status, 'paused', "the user's pause stays");
    await container.unpause();
    await container.remove({ force: true });
  });

  it('docker CLI: commit right after start, and of an exited container', { skip: DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false }, async () => {
    const cli = (args: string[]) => docker(DOCKER_CLIENTS[0]!, daemon.host, args);
    for (let i = 0; i < 10; i++) {
      const created = await cli(['create', 'busybox', 'touch', '/test']);
      const id = created.stdout.trim();
      assert.equal((await cli(['start', id])).code, 0);
      const committed = await cli(['commit', id, `cli-after-exit:${i}`]);
      assert.equal(committed.code, 0, `try ${i}: ${committed.stderr}`);
      await cli(['wait', id]);
      const again = await cli(['commit', id, `cli-exited:${i}`]);
      assert.equal(again.code, 0, again.stderr);
      for (const image of [`cli-after-exit:${i}`, `cli-exited:${i}`]) assert.equal(await imageHas(image, '/test'), true, image);
      await cli(['rm', id]);
    }
    for (const i of [0, 9]) {
      const listed = await cli(['run', '--rm', `cli-after-exit:${i}`, 'ls', '/test']);
      assert.equal(listed.stdout, '/test\n', listed.stderr);
    }
  });
});
