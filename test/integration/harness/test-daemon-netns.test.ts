import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { needsRoot, startTestDaemon, TestDaemon } from '../../helpers/test-daemon';

const netnsOf = (pid: number | undefined) => fs.readlink(`/proc/${pid}/ns/net`);

/**
 * The test daemon runs in a network namespace of its own, kept across restart() and crash(),
 * so whatever its networking does (bridges, veths, iptables) never reaches the host's.
 */
describe('test daemon network namespace', { skip: needsRoot('needs root (network namespaces)') }, () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(async () => {
    await daemon?.stop();
  });

  it('runs berthd in a namespace of its own, the same one after a crash and a restart', async () => {
    const own = await netnsOf(process.pid);
    const first = await netnsOf(daemon.process.pid);
    assert.notEqual(first, own, 'berthd runs on the host network');
    assert.equal(first, await netnsOf(daemon.netns!.pid));
    await daemon.crash();
    await daemon.restart();
    assert.equal(await netnsOf(daemon.process.pid), first);
  });

  it('a hostNetwork daemon runs on the host network with --bridge none', async () => {
    const hostDaemon = await startTestDaemon({ hostNetwork: true });
    try {
      assert.equal(hostDaemon.netns, undefined);
      assert.equal(await netnsOf(hostDaemon.process.pid), await netnsOf(process.pid));
      assert.match((await fs.readFile(`/proc/${hostDaemon.process.pid}/cmdline`, 'utf8')).split('\0').join(' '), /--bridge none/);
    } finally {
      await hostDaemon.stop();
    }
  });
});
