import { invalidArgument } from '../../errors';

/** An IPv4 prefix: the network address as a 32-bit number and its length. */
export interface Subnet {
  base: number;
  bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted IPv4 address, or undefined when it is not one. */
export function parseIPv4(text: string): number | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses `a.b.c.d/n` as dockerd does (host bits are cleared: 10.1.2.3/16 is 10.1.0.0/16).
 * `what` names the field in the message ("subnet", "ip-range").
 */
export function parseSubnet(text: string, what = 'subnet'): Subnet {
  const [address, length, extra] = text.split('/');
  const base = address === undefined ? undefined : parseIPv4(address);
  const bits = length !== undefined && /^\d{1,2}$/.test(length) ? Number(length) : NaN;
  if (base === undefined || extra !== undefined || !(bits >= 0 && bits <= 32)) {
    throw invalidArgument(`invalid ${what} ${text}: invalid CIDR address: ${text} (an IPv4 prefix such as 172.20.0.0/16)`);
  }
  return { base: (base & mask(bits)) >>> 0, bits };
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatIPv4(subnet.base)}/${subnet.bits}`;
}

export function subnetSize(subnet: Subnet): number {
  return 2 ** (32 - subnet.bits);
}

export function contains(subnet: Subnet, address: number): boolean {
  return ((address & mask(subnet.bits)) >>> 0) === subnet.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0);
}

/** Docker's default address pools: 172.17–31.0.0/16, then 192.168.0.0/16 cut into /20s. */
export function* defaultPools(): Generator<Subnet> {
  for (let second = 17; second <= 31; second++) yield { base: ((172 << 24) >>> 0) + (second << 16), bits: 16 };
  for (let third = 0; third < 256; third += 16) yield { base: ((192 << 24) >>> 0) + (168 << 16) + (third << 8), bits: 20 };
}

/** The first default pool that overlaps none of `taken` (other networks, the host's routes). */
export function pickSubnet(taken: readonly Subnet[]): Subnet | undefined {
  for (const candidate of defaultPools()) {
    if (!taken.some((t) => overlaps(t, candidate))) return candidate;
  }
  return undefined;
}

/**
 * The lowest free host address in `range` (within `subnet`), skipping the network and
 * broadcast addresses and every address in `used`.
 */
export function firstFreeAddress(subnet: Subnet, range: Subnet, used: ReadonlySet<number>): number | undefined {
  const first = Math.max(range.base, subnet.base + 1);
  const last = Math.min(range.base + subnetSize(range) - 1, subnet.base + subnetSize(subnet) - 2);
  for (let address = first; address <= last; address++) {
    if (!used.has(address)) return address;
  }
  return undefined;
}

/** A MAC address from an IPv4 address, as Docker makes them (02:42 + the four bytes). */
export function macForAddress(address: number): string {
  return ['02', '42', ...[address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
