import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';

const skip = needsRoot('needs root (runc, overlay mounts)');

/**
 * Signals that race a process's own exit: runc already knows it is gone ("container not
 * running") while its exit is not recorded yet. dockerd treats that as done; so must berth.
 */
describe('kill and rm -f right as the process exits (dockerode)', { skip }, () => {
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

  it('rm -f of a container that is exiting removes it (15 times, at staggered moments)', async () => {
    for (let i = 0; i < 15; i++) {
      const container = await client.createContainer({ Image: 'busybox', Cmd: ['true'] });
      await container.start();
      await new Promise((r) => setTimeout(r, (i % 5) * 3));
      await container.remove({ force: true });
      await assert.rejects(container.inspect(), (err: { statusCode?: number }) => err.statusCode === 404, `try ${i}`);
    }
  });

  it('kill of a container that is exiting: done, or 409 once its exit is recorded (15 times)', async () => {
    for (let i = 0; i < 15; i++) {
      const container = await client.createContainer({ Image: 'busybox', Cmd: ['true'] });
      await container.start();
      await new Promise((r) => setTimeout(r, (i % 5) * 3));
      try {
        await container.kill();
      } catch (err) {
        const { statusCode, json } = err as { statusCode?: number; json?: { message?: string } };
        assert.equal(statusCode, 409, `try ${i}: ${json?.message}`);
        assert.match(json?.message ?? '', /is not running/);
      }
      // SIGKILL answers once the exit is recorded, as in dockerd.
      assert.equal((await container.inspect()).State.Status, 'exited', `try ${i}`);
      await container.remove();
    }
  });
});
