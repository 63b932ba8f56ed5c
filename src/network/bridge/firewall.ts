import { iptables, iptablesSave } from '../commands';
import type { NetworkRecord } from '../types';

/**
 * berth's iptables rules, all in chains of its own (never the host's chains, which are only
 * given one jump each, checked before it is added): BERTH-FORWARD and the two isolation
 * chains in `filter`, BERTH-POSTROUTING in `nat`. Every rule is checked (-C) before it is
 * added, so rebuilding after a restart or a kill -9 adds no duplicates, and rules naming a
 * bridge that is no network any more are swept at start.
 */
export const CHAINS = {
  forward: 'BERTH-FORWARD',
  isolation1: 'BERTH-ISOLATION-1',
  isolation2: 'BERTH-ISOLATION-2',
  postrouting: 'BERTH-POSTROUTING',
  dnat: 'BERTH-DNAT',
} as const;

export type Rule = { table: 'filter' | 'nat'; chain: string; spec: string[]; first?: boolean };

/**
 * The chains and rules iptables-save lists (`<table> <chain>`, `<table> -A <chain> <spec>`),
 * so setting up a network checks them all with one process instead of one `-S`/`-C` each
 * (13 on a daemon's first container on the bridge). Only an exact match counts as present;
 * anything else is checked with -C as before, so a line printed differently costs a process,
 * never a missing rule.
 */
interface Listing {
  chains: Set<string>;
  rules: Set<string>;
}

async function listAll(): Promise<Listing | undefined> {
  const saved = await iptablesSave();
  if (saved.code !== 0) return undefined;
  const listing: Listing = { chains: new Set(), rules: new Set() };
  let table = '';
  for (const raw of saved.stdout.toString().split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) listing.chains.add(`${table} ${line.slice(1).split(' ')[0]}`);
    else if (line.startsWith('-A ')) listing.rules.add(`${table} ${line}`);
  }
  return listing;
}

async function ensureChain(table: string, chain: string, listing?: Listing): Promise<void> {
  if (listing?.chains.has(`${table} ${chain}`)) return;
  const listed = await iptables(['-t', table, '-S', chain], { allowFailure: true });
  if (listed.code !== 0) await iptables(['-t', table, '-N', chain]);
}

async function ensureRule(rule: Rule, listing?: Listing): Promise<void> {
  if (listing?.rules.has(`${rule.table} -A ${rule.chain} ${rule.spec.join(' ')}`)) return;
  const exists = await iptables(['-t', rule.table, '-C', rule.chain, ...rule.spec], { allowFailure: true });
  if (exists.code === 0) return;
  await iptables(['-t', rule.table, rule.first ? '-I' : '-A', rule.chain, ...(rule.first ? ['1'] : []), ...rule.spec]);
}

async function deleteRule(rule: Rule): Promise<void> {
  // Delete every copy (a rule added twice by hand, or by an older berth).
  for (let i = 0; i < 16; i++) {
    const deleted = await iptables(['-t', rule.table, '-D', rule.chain, ...rule.spec], { allowFailure: true });
    if (deleted.code !== 0) return;
  }
}

/** berth's chains and the one jump into each from the host's chains. */
export async function ensureBaseChains(listing?: Listing): Promise<void> {
  await ensureChain('filter', CHAINS.forward, listing);
  await ensureChain('filter', CHAINS.isolation1, listing);
  await ensureChain('filter', CHAINS.isolation2, listing);
  await ensureChain('nat', CHAINS.postrouting, listing);
  await ensureRule({ table: 'filter', chain: 'FORWARD', spec: ['-j', CHAINS.forward], first: true }, listing);
  await ensureRule({ table: 'filter', chain: CHAINS.forward, spec: ['-j', CHAINS.isolation1], first: true }, listing);
  await ensureRule({ table: 'nat', chain: 'POSTROUTING', spec: ['-j', CHAINS.postrouting] }, listing);
}

/** The DNAT chain of published ports, entered for traffic to a local address (127.0.0.0/8 goes to the proxy). */
async function ensurePortChains(): Promise<void> {
  await ensureBaseChains();
  await ensureChain('nat', CHAINS.dnat);
  await ensureRule({ table: 'nat', chain: 'PREROUTING', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', CHAINS.dnat] });
  await ensureRule({ table: 'nat', chain: 'OUTPUT', spec: ['!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', CHAINS.dnat] });
}

/** One published port: DNAT from the host port to the container, and the forward rule letting it in. */
export function portRules(bridge: string, containerIp: string, port: { proto: string; hostIp: string; hostPort: number; containerPort: number }): Rule[] {
  const destination = port.hostIp === '0.0.0.0' ? [] : ['-d', `${port.hostIp}/32`];
  return [
    { table: 'nat', chain: CHAINS.dnat, spec: [...destination, '!', '-i', bridge, '-p', port.proto, '-m', port.proto, '--dport', String(port.hostPort), '-j', 'DNAT', '--to-destination', `${containerIp}:${port.containerPort}`] },
    { table: 'filter', chain: CHAINS.forward, spec: ['-d', `${containerIp}/32`, '!', '-i', bridge, '-o', bridge, '-p', port.proto, '-m', port.proto, '--dport', String(port.containerPort), '-j', 'ACCEPT'] },
  ];
}

export async function addPortRules(rules: readonly Rule[]): Promise<void> {
  await ensurePortChains();
  for (const rule of rules) await ensureRule(rule);
}

export async function removePortRules(rules: readonly Rule[]): Promise<void> {
  for (const rule of rules) await deleteRule(rule);
}

/** A bridge driver option that is a Go bool, `true` when it is not given. */
function optionOn(network: NetworkRecord, key: string): boolean {
  const value = network.Options?.[key];
  return value === undefined || ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value);
}

/**
 * The rules one network needs (moby's bridge driver's, in berth's chains);
 * `-o com.docker.network.bridge.enable_icc=false` drops traffic between its containers,
 * `enable_ip_masquerade=false` leaves out the NAT to the outside.
 */
export function networkRules(network: NetworkRecord): Rule[] {
  const br = network.bridge;
  const icc = optionOn(network, 'com.docker.network.bridge.enable_icc');
  const rules: Rule[] = [
    { table: 'filter', chain: CHAINS.forward, spec: ['-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'] },
    { table: 'filter', chain: CHAINS.forward, spec: ['-i', br, '-o', br, '-j', icc ? 'ACCEPT' : 'DROP'] },
    { table: 'filter', chain: CHAINS.isolation2, spec: ['-o', br, '-j', 'DROP'] },
  ];
  if (network.Internal) {
    // Nothing in or out but between its own containers.
    rules.push({ table: 'filter', chain: CHAINS.isolation1, spec: ['-i', br, '!', '-o', br, '-j', 'DROP'] });
    rules.push({ table: 'filter', chain: CHAINS.isolation1, spec: ['!', '-i', br, '-o', br, '-j', 'DROP'] });
  } else {
    rules.push({ table: 'filter', chain: CHAINS.isolation1, spec: ['-i', br, '!', '-o', br, '-j', CHAINS.isolation2] });
    rules.push({ table: 'filter', chain: CHAINS.forward, spec: ['-i', br, '!', '-o', br, '-j', 'ACCEPT'] });
    if (optionOn(network, 'com.docker.network.bridge.enable_ip_masquerade')) rules.push({ table: 'nat', chain: CHAINS.postrouting, spec: ['-s', network.subnet, '!', '-o', br, '-j', 'MASQUERADE'] });
  }
  return rules;
}

export async function ensureNetworkRules(network: NetworkRecord): Promise<void> {
  const listing = await listAll();
  await ensureBaseChains(listing);
  for (const rule of networkRules(network)) await ensureRule(rule, listing);
}

export async function removeNetworkRules(network: NetworkRecord): Promise<void> {
  for (const rule of networkRules(network)) await deleteRule(rule);
}

/** The bridges a rule names (after -i and -o). */
function bridgesOf(words: readonly string[]): string[] {
  return words.filter((_, i) => i > 0 && (words[i - 1] === '-i' || words[i - 1] === '-o'));
}

/**
 * Deletes the rules in berth's chains that name a bridge no network has (left by a crash
 * between removing a network's record and its rules). `keep` says which bridges' rules stay:
 * this daemon's networks, and bridges other daemons on the host own. Returns how many went.
 */
export async function sweepForeignRules(keep: (bridge: string) => boolean): Promise<number> {
  let removed = 0;
  for (const [table, chain] of [['filter', CHAINS.forward], ['filter', CHAINS.isolation1], ['filter', CHAINS.isolation2], ['nat', CHAINS.postrouting], ['nat', CHAINS.dnat]] as const) {
    const listed = await iptables(['-t', table, '-S', chain], { allowFailure: true });
    if (listed.code !== 0) continue;
    for (const line of listed.stdout.toString().split('\n')) {
      const words = line.trim().split(/\s+/);
      if (words[0] !== '-A' || words[1] !== chain) continue;
      const bridges = bridgesOf(words);
      if (bridges.length === 0 || bridges.every(keep)) continue;
      await iptables(['-t', table, '-D', chain, ...words.slice(2)], { allowFailure: true });
      removed++;
    }
  }
  return removed;
}

/**
 * Deletes DNAT and forward rules of published ports whose container address and port no live
 * endpoint publishes (a container that exited while the daemon was down, a crash mid-way),
 * except on bridges another daemon owns (`othersBridge`): those are its containers' ports.
 */
export async function sweepPortRules(liveTargets: ReadonlySet<string>, othersBridge: (bridge: string) => boolean): Promise<number> {
  let removed = 0;
  for (const [table, chain] of [['nat', CHAINS.dnat], ['filter', CHAINS.forward]] as const) {
    const listed = await iptables(['-t', table, '-S', chain], { allowFailure: true });
    if (listed.code !== 0) continue;
    for (const line of listed.stdout.toString().split('\n')) {
      const words = line.trim().split(/\s+/);
      if (words[0] !== '-A' || words[1] !== chain) continue;
      const at = (flag: string) => words[words.indexOf(flag) + 1];
      let target: string | undefined;
      if (words.includes('--to-destination')) target = at('--to-destination');
      else if (words.includes('-d') && words.includes('--dport')) target = `${at('-d')!.replace(/\/32$/, '')}:${at('--dport')}`;
      if (target === undefined || liveTargets.has(target) || bridgesOf(words).some(othersBridge)) continue;
      await iptables(['-t', table, '-D', chain, ...words.slice(2)], { allowFailure: true });
      removed++;
    }
  }
  return removed;
}
