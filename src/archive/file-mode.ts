import type { BigIntStats, Stats } from 'node:fs';

/**
 * Go's os.FileMode bits, which Docker puts in PathStat.mode (the
 * X-Docker-Container-Path-Stat header): permission bits plus type and special bits high
 * in a uint32. Written as powers of two because JS bit operators are signed 32-bit.
 */
const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

export function goFileMode(st: Stats | BigIntStats): number {
  const mode = Number(st.mode);
  let result = mode & 0o777;
  if (st.isDirectory()) result += GO_MODE.dir;
  else if (st.isSymbolicLink()) result += GO_MODE.symlink;
  else if (st.isBlockDevice()) result += GO_MODE.device;
  else if (st.isCharacterDevice()) result += GO_MODE.device + GO_MODE.charDevice;
  else if (st.isFIFO()) result += GO_MODE.namedPipe;
  else if (st.isSocket()) result += GO_MODE.socket;
  if (mode & 0o4000) result += GO_MODE.setuid;
  if (mode & 0o2000) result += GO_MODE.setgid;
  if (mode & 0o1000) result += GO_MODE.sticky;
  return result;
}

/** Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped, none when whole. */
export function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = ns % 1_000_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const frac = fraction === 0n ? '' : '.' + fraction.toString().padStart(9, '0').replace(/0+$/, '');
  return `${whole}${frac}Z`;
}
