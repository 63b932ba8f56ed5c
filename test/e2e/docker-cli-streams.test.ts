import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

/** The docker CLIs (28 and 20.10) against berthd: exec and attach streams. */
describe('the real docker CLI against berthd: streams', { skip }, () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('exec of a missing command: dockerd\'s message in the stream and exit code 126', async () => {
    const client = DOCKER_CLIENTS[0]!;
    assert.equal((await docker(client, daemon.host, ['run', '-d', '--name', 'exec-host', 'busybox', 'sleep', '1000'])).code, 0);
    for (const c of DOCKER_CLIENTS) {
      for (const tty of [[], ['-t']]) {
        const result = await docker(c, daemon.host, ['exec', ...tty, 'exec-host', 'nosuchcmd']);
        assert.equal(result.code, 126, `${c} ${tty.join('')}: ${result.stderr}`);
        assert.match(result.stdout, /^OCI runtime exec failed: .*exec: "nosuchcmd": executable file not found in \$PATH: unknown\r?\n/);
      }
      const ok = await docker(c, daemon.host, ['exec', 'exec-host', 'echo', 'still', 'fine']);
      assert.equal(ok.stdout, 'still fine\n');
      assert.equal(ok.code, 0);
    }
    await docker(client, daemon.host, ['rm', '-f', 'exec-host']);
  });
});
