import { readFileSync } from 'node:fs';
import { invalidArgument } from '../../errors';

/** Every capability runc 1.1 and this kernel know, in bit order (CAP_CHOWN = bit 0). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default set (moby oci/caps DefaultCapabilities), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const ALL = 'ALL';

/** Upper-cases and adds the CAP_ prefix; rejects unknown names with Docker's wording. */
export function normalizeCapabilities(caps: readonly string[], field: 'CapAdd' | 'CapDrop'): string[] {
  const out: string[] = [];
  for (const raw of caps) {
    let cap = raw.trim().toUpperCase();
    if (cap !== ALL && !cap.startsWith('CAP_')) cap = `CAP_${cap}`;
    if (cap !== ALL && !ALL_CAPABILITIES.includes(cap)) {
      throw invalidArgument(`invalid ${field}: unknown capability: "${cap}"`);
    }
    if (!out.includes(cap)) out.push(cap);
  }
  return out;
}

let hostCaps: string[] | undefined;

/**
 * The capabilities this engine itself holds (CapBnd of /proc/self/status). "All" means
 * these: runc cannot grant a container a capability outside its own bounding set
 * (a sandboxed host may lack e.g. CAP_SYS_RESOURCE).
 */
export function hostCapabilities(): string[] {
  if (hostCaps) return hostCaps;
  let caps = [...ALL_CAPABILITIES];
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) {
      const mask = BigInt(`0x${m[1]}`);
      caps = ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
    }
  } catch {
    // not Linux /proc: keep the full list
  }
  hostCaps = caps;
  return caps;
}

/**
 * The effective capability set for a container, following moby's TweakCapabilities:
 * privileged → all; cap-add ALL → all minus drops; cap-drop ALL → only adds;
 * otherwise defaults minus drops plus adds. "All" is `available` (the host's set).
 */
export function effectiveCapabilities(opts: {
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  available?: readonly string[];
}): string[] {
  const all = opts.available ?? hostCapabilities();
  if (opts.privileged) return [...all];
  const adds = normalizeCapabilities(opts.capAdd ?? [], 'CapAdd');
  const drops = normalizeCapabilities(opts.capDrop ?? [], 'CapDrop');
  if (adds.includes(ALL)) return all.filter((c) => !drops.includes(c));
  if (drops.includes(ALL)) return adds.filter((c) => c !== ALL);
  const caps = DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c));
  for (const c of adds) if (!caps.includes(c)) caps.push(c);
  return caps;
}

/** The /proc/<pid>/status CapEff-style hex mask of a set, e.g. 00000000a80425fb for the defaults. */
export function capabilityMask(caps: readonly string[]): string {
  let mask = 0n;
  for (const c of caps) {
    const bit = ALL_CAPABILITIES.indexOf(c);
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, '0');
}
