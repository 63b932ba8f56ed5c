import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { runCommand } from '../helpers/cli';
import { bridgeOwnerTag } from '../../src/network/bridge/steps';

/**
 * The start-up sweep removes only what this daemon left: bridges it made (their owner mark),
 * and rules naming them or naming bridges that are gone. Another berthd's bridges (a system
 * daemon beside a test daemon on one host), dockerd's `br-<id>` bridges and their rules in the
 * shared BERTH-* chains are not its leftovers. A daemon used to sweep every `berth0`/`br-*`
 * bridge it had no record of, so `npm test` on a host with berth or docker running removed
 * their networks. All of this happens in the test daemon's own network namespace.
 */
describe('network sweep at daemon start', { skip: needsRoot('needs root (network namespaces, iptables)') }, () => {
  let daemon: TestDaemon;
  const inNetns = async (file: string, ...args: string[]) => {
    const c = daemon.netns!.command(file, args);
    const r = await runCommand(c.file, c.args, { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${file} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const links = async () => JSON.parse(await inNetns('ip', '-j', 'link', 'show')) as Array<{ ifname: string; master?: string; ifalias?: string }>;
  const rules = async () => (await inNetns('iptables-save')).split('\n').filter((l) => l.startsWith('-A BERTH-'));

  before(async () => {
    daemon = await startTestDaemon({ args: ['--bridge', 'none'] });
  });
  after(async () => {
    await daemon?.stop();
  });

  it("keeps other daemons' bridges, veths and rules, and removes its own leftovers", async () => {
    // Another berthd's default bridge (another owner mark), dockerd's user network (no mark)
    // with a container's veth on it, and a bridge this daemon made before a kill -9 lost its record.
    const own = bridgeOwnerTag(daemon.dataRoot);
    const batch = [
      'link add name berth0 type bridge',
      'link set dev berth0 alias berth-owner-0123456789abcdef',
      'link add name br-0123456789ab type bridge',
      'link add vethdock0 type veth peer name vethdock1',
      'link set dev vethdock0 master br-0123456789ab',
      'link add name br-aaaaaaaaaaaa type bridge',
      `link set dev br-aaaaaaaaaaaa alias ${own}`,
      'link add vethown0 type veth peer name vethown1',
      'link set dev vethown0 master br-aaaaaaaaaaaa',
    ];
    const c = daemon.netns!.command('ip', ['-batch', '-']);
    const r = await runCommand(c.file, c.args, { input: batch.join('\n') + '\n', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const restore = [
      '*filter',
      ':BERTH-FORWARD - [0:0]',
      ':BERTH-ISOLATION-2 - [0:0]',
      '-A BERTH-FORWARD -i berth0 ! -o berth0 -j ACCEPT',
      '-A BERTH-FORWARD -d 172.17.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-A BERTH-FORWARD -i br-0123456789ab ! -o br-0123456789ab -j ACCEPT',
      '-A BERTH-FORWARD -i br-aaaaaaaaaaaa ! -o br-aaaaaaaaaaaa -j ACCEPT',
      '-A BERTH-ISOLATION-2 -o br-gone1234567 -j DROP',
      'COMMIT',
      '*nat',
      ':BERTH-DNAT - [0:0]',
      '-A BERTH-DNAT ! -i berth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
      '-A BERTH-DNAT ! -i br-aaaaaaaaaaaa -p tcp -m tcp --dport 8081 -j DNAT --to-destination 172.30.0.2:80',
      'COMMIT',
    ];
    const rc = daemon.netns!.command('iptables-restore', ['--noflush']);
    const rr = await runCommand(rc.file, rc.args, { input: restore.join('\n') + '\n', timeoutMs: 30_000 });
    assert.equal(rr.code, 0, rr.stderr);

    await daemon.crash();
    await daemon.restart();

    const after = await links();
    const names = new Set(after.map((l) => l.ifname));
    assert.ok(names.has('berth0'), "another berthd's bridge was removed");
    assert.ok(names.has('br-0123456789ab'), "dockerd's bridge was removed");
    assert.equal(after.find((l) => l.ifname === 'vethdock0')?.master, 'br-0123456789ab', "a veth on dockerd's bridge was removed or moved");
    assert.ok(!names.has('br-aaaaaaaaaaaa'), "this daemon's leftover bridge was kept");
    assert.ok(!names.has('vethown0'), "the veth on this daemon's leftover bridge was kept");
    const left = await rules();
    for (const kept of [
      '-A BERTH-FORWARD -i berth0 ! -o berth0 -j ACCEPT',
      '-A BERTH-FORWARD -d 172.17.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-A BERTH-FORWARD -i br-0123456789ab ! -o br-0123456789ab -j ACCEPT',
      '-A BERTH-DNAT ! -i berth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
    ]) {
      assert.ok(left.includes(kept), `rule removed: ${kept}\n${left.join('\n')}`);
    }
    for (const removed of ['br-aaaaaaaaaaaa', 'br-gone1234567']) {
      assert.ok(!left.some((l) => l.includes(removed)), `rules of ${removed} kept:\n${left.join('\n')}`);
    }
  });
});
