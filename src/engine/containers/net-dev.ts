import { promises as fs } from 'node:fs';

/** One interface's counters in moby's NetworkStats shape (the docker CLI sums them for NET I/O). */
export type InterfaceStats = {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
};

/**
 * /proc/<pid>/net/dev of a process: the counters of every interface in its network namespace,
 * loopback left out (dockerd reports the container's endpoints only).
 */
export function parseNetDev(text: string): Record<string, InterfaceStats> {
  const out: Record<string, InterfaceStats> = {};
  // Two header lines, then "  eth0: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes tx_packets errs drop ...".
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (name === 'lo' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[name] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! };
  }
  return out;
}

/**
 * The network counters of a container's namespace, read through its init process; undefined
 * when it shares the host's namespace (dockerd has no endpoint to report then) or is gone.
 */
export async function readNetworkStats(pid: number): Promise<Record<string, InterfaceStats> | undefined> {
  if (pid <= 0) return undefined;
  try {
    const [own, its] = await Promise.all([fs.readlink('/proc/self/ns/net'), fs.readlink(`/proc/${pid}/ns/net`)]);
    if (own === its) return undefined;
    return parseNetDev(await fs.readFile(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return undefined;
  }
}
