import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';
import { waitFor } from '../helpers/wait';
import { ContainerStore } from '../../src/metadata/containers';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

interface State {
  RestartCount: number;
  State: { Status: string; ExitCode: number; Running: boolean; Pid: number };
}

describe('restart policies', { skip }, () => {
  let daemon: TestDaemon;
  const run = (args: string[]) => docker(DOCKER_CLIENTS[0]!, daemon.host, args);
  const inspect = async (name: string) => (JSON.parse((await run(['inspect', name])).stdout) as State[])[0]!;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
    const created = await run(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo try; exit 3']);
    assert.equal(created.code, 0, created.stderr);
    await waitFor(async () => {
      const state = await inspect('flaky');
      return state.RestartCount === 2 && state.State.Status === 'exited';
    }, 15_000);
    const state = await inspect('flaky');
    assert.equal(state.State.ExitCode, 3);
    assert.equal((await run(['logs', 'flaky'])).stdout, 'try\ntry\ntry\n');
  });

  it('always restarts after an exit, but not after docker stop', async () => {
    await run(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 0']);
    await waitFor(async () => (await inspect('always')).RestartCount >= 1, 15_000);
    assert.equal((await run(['stop', '-t', '1', 'always'])).code, 0);
    const stopped = await inspect('always');
    assert.equal(stopped.State.Running, false);
    await new Promise((r) => setTimeout(r, 1000));
    const later = await inspect('always');
    assert.equal(later.State.Status, 'exited');
    assert.equal(later.RestartCount, stopped.RestartCount);
  });

  it('starts always and unless-stopped containers when the daemon starts, except one the user stopped', async () => {
    await run(['run', '-d', '--name', 'keeper', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    await run(['run', '-d', '--name', 'stopped-by-user', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    assert.equal((await run(['stop', '-t', '0', 'stopped-by-user'])).code, 0);
    await daemon.crash();
    // With the daemon down, the container dies: the daemon must bring it back.
    const pid = (await inspectFromDisk()).pid;
    if (pid > 0) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await daemon.restart();
    await waitFor(async () => (await inspect('keeper')).State.Running, 15_000);
    assert.equal((await inspect('stopped-by-user')).State.Running, false);
    await run(['rm', '-f', 'keeper', 'stopped-by-user', 'always', 'flaky']);

    async function inspectFromDisk(): Promise<{ pid: number }> {
      // The daemon is down: open its container store as the next daemon will.
      const path = await import('node:path');
      const store = new ContainerStore(path.join(daemon.dataRoot, 'containers'));
      await store.init();
      try {
        return { pid: store.find('keeper')?.State.Pid ?? 0 };
      } finally {
        await store.close();
      }
    }
  });

  it('refuses an unknown policy', async () => {
    const result = await run(['create', '--restart', 'sometimes', 'busybox']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /sometimes/);
  });
});
