import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand } from '../../helpers/cli';
import { diffSnapshots, snapshotNetwork } from '../../helpers/host-network';
import { createPrivateNetns, PrivateNetns } from '../../helpers/private-netns';
import { needsRoot } from '../../helpers/test-daemon';

/**
 * The guard `npm test` runs around the suite (scripts/run-tests.ts), exercised on a network
 * namespace of the test's own: it must see every kind of change and ignore counters.
 */
describe('host network guard', { skip: needsRoot('needs root (network namespaces)') }, () => {
  let ns: PrivateNetns;
  const inNs = (file: string, args: string[]) => ns.command(file, args);
  const run = async (file: string, ...args: string[]) => {
    const c = inNs(file, args);
    const r = await runCommand(c.file, c.args);
    assert.equal(r.code, 0, `${file} ${args.join(' ')}: ${r.stderr}`);
  };
  /** Asserts that `change` shows up in the diff, under `section`, with a line matching `line`. */
  const detects = async (section: RegExp, line: RegExp, change: () => Promise<void>) => {
    const before = await snapshotNetwork(inNs);
    await change();
    const diff = diffSnapshots(before, await snapshotNetwork(inNs));
    assert.ok(diff.some((l) => section.test(l)), `no ${section} section in:\n${diff.join('\n')}`);
    assert.ok(diff.some((l) => line.test(l)), `no ${line} line in:\n${diff.join('\n')}`);
  };

  before(async () => {
    ns = await createPrivateNetns();
  });
  after(async () => {
    await ns?.close();
  });

  it('a fresh namespace has loopback up and nothing else', async () => {
    const snapshot = await snapshotNetwork(inNs);
    assert.match(snapshot['interfaces (ip -o link)'], /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    assert.equal(snapshot['interfaces (ip -o link)'].split('\n').length, 1);
    assert.deepEqual(diffSnapshots(snapshot, await snapshotNetwork(inNs)), []);
  });

  it('sees an interface created, renamed and deleted', async () => {
    await detects(/^interfaces/, /^ {2}\+ \d+: docker0: /, () => run('ip', 'link', 'add', 'docker0', 'type', 'bridge'));
    await detects(/^interfaces/, /^ {2}\+ \d+: br-renamed: /, () => run('ip', 'link', 'set', 'docker0', 'name', 'br-renamed'));
    await detects(/^interfaces/, /^ {2}- \d+: br-renamed: /, () => run('ip', 'link', 'del', 'br-renamed'));
  });

  it('sees addresses, routes and policy rules', async () => {
    await run('ip', 'link', 'add', 'guard0', 'type', 'bridge');
    await run('ip', 'link', 'set', 'guard0', 'addrgenmode', 'none');
    await run('ip', 'link', 'set', 'guard0', 'up');
    await detects(/^addresses/, /\+ .*inet 10\.99\.0\.1\/24/, () => run('ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'guard0'));
    await detects(/^IPv4 routes/, /\+ 10\.98\.0\.0\/16 via 10\.99\.0\.2/, () => run('ip', 'route', 'add', '10.98.0.0/16', 'via', '10.99.0.2'));
    await detects(/^IPv6 routes/, /\+ fd99::\/64 dev guard0/, () => run('ip', '-6', 'route', 'add', 'fd99::/64', 'dev', 'guard0'));
    await detects(/^IPv4 policy rules/, /\+ 100:\s+from 10\.97\.0\.0\/16 lookup 7/, () => run('ip', 'rule', 'add', 'pref', '100', 'from', '10.97.0.0/16', 'table', '7'));
    // The bridge's IPv6 link-local address leaves "tentative" when duplicate detection ends, a
    // second later: gone now, so that change cannot land in a later test's snapshots.
    await run('ip', 'link', 'del', 'guard0');
  });

  it('sees the forwarding switch', async () => {
    // A new namespace takes IPv4 settings from the host's: flip whatever it has.
    const was = /ip_forward = (\d)/.exec((await snapshotNetwork(inNs))['forwarding sysctls'])?.[1];
    const now = was === '1' ? '0' : '1';
    await detects(/^forwarding/, new RegExp(`\\+ net\\.ipv4\\.ip_forward = ${now}`), () => run('sysctl', '-w', `net.ipv4.ip_forward=${now}`));
  });

  it('sees firewall rules, and not their packet counters', async () => {
    await detects(/^iptables/, /\+ \[N:N\] -A INPUT -i lo -p tcp -j ACCEPT/, () => run('iptables', '-A', 'INPUT', '-i', 'lo', '-p', 'tcp', '-j', 'ACCEPT'));
    await detects(/^ip6tables/, /\+ \[N:N\] -A FORWARD -j DROP/, () => run('ip6tables', '-A', 'FORWARD', '-j', 'DROP'));
    // Traffic moves the counters of the rule and chains above; that is no change.
    const before = await snapshotNetwork(inNs);
    const counted = async () => {
      const c = inNs('iptables-save', ['-c']);
      return (await runCommand(c.file, c.args)).stdout.replace(/^#.*$/gm, '');
    };
    const countersBefore = await counted();
    await run(process.execPath, '-e', "require('net').connect(1, '127.0.0.1').on('error', () => {})");
    assert.notEqual(await counted(), countersBefore, 'the connection attempt should have moved the counters');
    assert.deepEqual(diffSnapshots(before, await snapshotNetwork(inNs)), []);
  });
});
