import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * ensureNetworkRules in a network namespace of its own (`unshare --net`, so the host's rules
 * are never touched): it sets up the chains and rules, and once they are in place it checks
 * them all with one iptables-save instead of a process per chain and rule; a rule deleted by
 * hand is still found missing and added again.
 */
const SCRIPT = `
  const cp = require('child_process');
  const spawn = cp.spawn; let count = 0;
  cp.spawn = function (...args) { count++; return spawn.apply(this, args); };
  const fw = require(${JSON.stringify(path.join(__dirname, 'firewall.js'))});
  const network = { bridge: 'brtest0', subnet: '172.31.0.0/16', Internal: false, Options: {} };
  const rules = () => cp.execFileSync('iptables-save').toString().split('\\n').filter((l) => l.startsWith('-A ')).sort();
  (async () => {
    const out = {};
    await fw.ensureNetworkRules(network);
    out.first = rules();
    count = 0;
    await fw.ensureNetworkRules(network);
    out.secondProcesses = count;
    out.second = rules();
    cp.execFileSync('iptables', ['-t', 'nat', '-D', 'BERTH-POSTROUTING', '-s', '172.31.0.0/16', '!', '-o', 'brtest0', '-j', 'MASQUERADE']);
    await fw.ensureNetworkRules(network);
    out.repaired = rules();
    process.stdout.write(JSON.stringify(out));
  })().catch((err) => { console.error(err); process.exit(1); });
`;

test('ensureNetworkRules: one iptables-save when the rules are in place, a missing rule added again', { skip: process.getuid?.() !== 0 && 'needs root (a network namespace, iptables)' }, () => {
  const r = spawnSync('unshare', ['--net', process.execPath, '-e', SCRIPT], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { first: string[]; secondProcesses: number; second: string[]; repaired: string[] };
  assert.ok(out.first.includes('-A BERTH-POSTROUTING -s 172.31.0.0/16 ! -o brtest0 -j MASQUERADE'), out.first.join('\n'));
  assert.ok(out.first.includes('-A FORWARD -j BERTH-FORWARD'), out.first.join('\n'));
  assert.equal(out.first.length, 9, out.first.join('\n'));
  assert.equal(out.secondProcesses, 1, 'only iptables-save');
  assert.deepEqual(out.second, out.first, 'nothing added twice');
  assert.deepEqual(out.repaired, out.first);
});
