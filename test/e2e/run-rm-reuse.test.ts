import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

/**
 * A `run --rm` answers its wait before the task's own cleanup is done (runc state, cgroups,
 * the monitor's dir), and a create starts the container's monitor ahead: what a client sees
 * must not change. The name, a published host port and a fixed address are free the moment
 * `docker run --rm` returns; a created container's early monitor does not outlive the daemon.
 */
describe('run --rm: what the next command may take at once', { skip }, () => {
  let daemon: TestDaemon;
  const client = DOCKER_CLIENTS[0]!;
  const run = (args: string[]) => docker(client, daemon.host, args);

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('the same name and host port, back to back on the default bridge', async () => {
    for (let i = 0; i < 3; i++) {
      const result = await run(['run', '--rm', '--name', 'again', '-p', '127.0.0.1:18765:80', '--expose', '80', 'busybox', 'true']);
      assert.equal(result.code, 0, `run ${i}: ${result.stderr}`);
      assert.equal((await run(['ps', '-aq'])).stdout, '', `run ${i}: the --rm container is gone`);
    }
  });

  it('the same fixed address on a user network, back to back', async () => {
    assert.equal((await run(['network', 'create', '--subnet', '10.231.7.0/24', 'fixed'])).code, 0);
    try {
      for (let i = 0; i < 3; i++) {
        const result = await run(['run', '--rm', '--name', 'fixed-ip', '--network', 'fixed', '--ip', '10.231.7.9', 'busybox', 'sh', '-c', 'ip -4 addr show eth0 | grep -o "10.231.7.9/24"']);
        assert.equal(result.code, 0, `run ${i}: ${result.stderr}`);
        assert.equal(result.stdout, '10.231.7.9/24\n');
      }
    } finally {
      await run(['network', 'rm', 'fixed']);
    }
  });

  it('a created container that is never started leaves no monitor behind once the daemon stops', async () => {
    const created = await run(['create', '--name', 'never-started', 'busybox', 'true']);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    const monitors = async () => {
      const found: number[] = [];
      for (const entry of await fs.readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
        const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
        if (!zombie && cmdline.includes('berth-monitor') && cmdline.includes(path.join(daemon.execRoot, id.slice(0, 12)))) found.push(Number(entry));
      }
      return found;
    };
    // Started ahead by the create (for the start `docker run` would send next).
    let ahead: number[] = [];
    for (const deadline = Date.now() + 5_000; ahead.length === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) ahead = await monitors();
    assert.equal(ahead.length, 1, 'the create started the monitor ahead');
    await daemon.restart();
    assert.deepEqual(await monitors(), [], 'the stopped daemon killed it');
    // And the container still starts and runs.
    const started = await run(['start', '-a', 'never-started']);
    assert.equal(started.code, 0, started.stderr);
    await run(['rm', 'never-started']);
  });
});
