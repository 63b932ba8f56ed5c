import { existsSync } from 'node:fs';
import { runCommand } from './cli';

/**
 * A record of a network namespace's interfaces, addresses, routes, policy rules, forwarding
 * switches and firewall rules, to prove that the test suite left the host's network as it
 * found it (scripts/run-tests.ts). Only what is provably transient is normalized away:
 * packet/byte counters, address lifetimes and route expiry countdowns, and the timestamp
 * comments of iptables-save. Everything else that differs is a change.
 */
export type NetworkSnapshot = Record<string, string>;

interface Probe {
  name: string;
  file: string;
  args: string[];
  normalize?(text: string): string;
}

const SECONDS = /\b(valid_lft|preferred_lft|expires) \d+sec\b/g;
const IPTABLES_COUNTERS = /\[\d+:\d+\]/g;
const NFT_COUNTERS = /\bpackets \d+ bytes \d+\b/g;
const NFT_EXPIRES = /\bexpires [\dhms.]+/g;

const dropComments = (text: string) => text.split('\n').filter((line) => !line.startsWith('#')).join('\n');

const PROBES: Probe[] = [
  { name: 'interfaces (ip -o link)', file: 'ip', args: ['-o', 'link', 'show'] },
  { name: 'addresses (ip -o addr)', file: 'ip', args: ['-o', 'addr', 'show'], normalize: (t) => t.replace(SECONDS, '$1 Nsec') },
  { name: 'IPv4 routes (ip route, all tables)', file: 'ip', args: ['-4', 'route', 'show', 'table', 'all'], normalize: (t) => t.replace(SECONDS, '$1 Nsec') },
  { name: 'IPv6 routes (ip -6 route, all tables)', file: 'ip', args: ['-6', 'route', 'show', 'table', 'all'], normalize: (t) => t.replace(SECONDS, '$1 Nsec') },
  { name: 'IPv4 policy rules (ip rule)', file: 'ip', args: ['-4', 'rule', 'show'] },
  { name: 'IPv6 policy rules (ip -6 rule)', file: 'ip', args: ['-6', 'rule', 'show'] },
  { name: 'forwarding sysctls', file: 'sysctl', args: ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'] },
  // With -c every rule carries its counters, so the normalization is always exercised (tested).
  { name: 'iptables (iptables-save)', file: 'iptables-save', args: ['-c'], normalize: (t) => dropComments(t).replace(IPTABLES_COUNTERS, '[N:N]') },
  { name: 'ip6tables (ip6tables-save)', file: 'ip6tables-save', args: ['-c'], normalize: (t) => dropComments(t).replace(IPTABLES_COUNTERS, '[N:N]') },
  { name: 'nftables (nft list ruleset)', file: 'nft', args: ['list', 'ruleset'], normalize: (t) => t.replace(NFT_COUNTERS, 'packets N bytes N').replace(NFT_EXPIRES, 'expires N') },
];

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function locate(file: string): string | undefined {
  return SBIN.map((dir) => `${dir}/${file}`).find((p) => existsSync(p));
}

/**
 * Snapshots the network namespace that `enter` puts a command into (none: this process's
 * own, the host's). A tool that is not installed is recorded as such, so a snapshot is
 * comparable on any machine.
 */
export async function snapshotNetwork(enter: (file: string, args: string[]) => { file: string; args: string[] } = (file, args) => ({ file, args })): Promise<NetworkSnapshot> {
  const snapshot: NetworkSnapshot = {};
  for (const probe of PROBES) {
    const binary = locate(probe.file);
    if (!binary) {
      snapshot[probe.name] = `(${probe.file} not installed)`;
      continue;
    }
    const command = enter(binary, probe.args);
    const result = await runCommand(command.file, command.args, { timeoutMs: 30_000 });
    const output = result.stdout.toString();
    const text = result.code === 0 ? (probe.normalize ? probe.normalize(output) : output) : `(exit ${result.code}) ${result.stderr.trim()}`;
    snapshot[probe.name] = text.trimEnd();
  }
  return snapshot;
}

/** What changed between two snapshots, as readable lines ('-' gone, '+' new); empty when equal. */
export function diffSnapshots(before: NetworkSnapshot, after: NetworkSnapshot): string[] {
  const report: string[] = [];
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = before[name] ?? '';
    const now = after[name] ?? '';
    if (was === now) continue;
    const wasLines = was.split('\n');
    const nowLines = now.split('\n');
    const gone = wasLines.filter((line) => !nowLines.includes(line));
    const added = nowLines.filter((line) => !wasLines.includes(line));
    report.push(`${name}:`);
    for (const line of gone) report.push(`  - ${line}`);
    for (const line of added) report.push(`  + ${line}`);
    // Same lines in another order (e.g. a rule moved): show both orders.
    if (gone.length === 0 && added.length === 0) report.push('  (same lines, new order)', ...was.split('\n').map((l) => `  was: ${l}`), ...now.split('\n').map((l) => `  now: ${l}`));
  }
  return report;
}
