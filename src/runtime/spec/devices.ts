import { readdirSync, statSync, lstatSync, Stats } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, messageOf } from '../../errors';
import { OciDevice, OciDeviceCgroup } from './oci-types';

/** Docker's device cgroup rules for an unprivileged container (moby oci.DefaultLinuxSpec). */
export function defaultDeviceCgroupRules(): OciDeviceCgroup[] {
  const allow = (major: number, minor: number): OciDeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // /dev/zero
    allow(1, 3), // /dev/null
    allow(1, 9), // /dev/urandom
    allow(1, 8), // /dev/random
    allow(5, 0), // /dev/tty
    allow(5, 1), // /dev/console
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // /dev/net/tun
  ];
}

const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

function deviceFromStats(st: Stats, containerPath: string): OciDevice | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return { type, path: containerPath, major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** One --device host:container:perms; a directory adds every device below it. */
export function deviceMapping(pathOnHost: string, pathInContainer: string, permissions: string): { devices: OciDevice[]; rules: OciDeviceCgroup[] } {
  let st: Stats;
  try {
    st = statSync(pathOnHost);
  } catch (err: unknown) {
    // dockerd's words: the errno's text without Node's "ENOENT: ..., stat '<path>'" frame.
    const reason = /^[A-Z]+: ([^,]+),/.exec(messageOf(err))?.[1] ?? messageOf(err);
    throw invalidArgument(`error gathering device information while adding custom device "${pathOnHost}": ${reason}`, err);
  }
  const devices: OciDevice[] = [];
  if (st.isDirectory()) {
    for (const d of walkDevices(pathOnHost)) devices.push({ ...d, path: path.join(pathInContainer, path.relative(pathOnHost, d.path)) });
  } else {
    const d = deviceFromStats(st, pathInContainer);
    if (!d) throw invalidArgument(`error gathering device information while adding custom device "${pathOnHost}": not a device node`);
    devices.push(d);
  }
  const rules = devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: permissions || 'rwm' }));
  return { devices, rules };
}

const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under a host dir (privileged containers get all of /dev, like Docker). */
export function walkDevices(dir: string): OciDevice[] {
  const out: OciDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(full);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (!SKIPPED_DEV_DIRS.has(name)) out.push(...walkDevices(full));
      continue;
    }
    if (full === '/dev/console') continue;
    const d = deviceFromStats(st, full);
    if (d) out.push(d);
  }
  return out;
}

/** Parses a --device-cgroup-rule "c 1:3 rwm" ("*" for any major/minor). */
export function parseDeviceCgroupRule(rule: string): OciDeviceCgroup {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule.trim());
  if (!m) throw invalidArgument(`invalid device cgroup rule format: '${rule}'`);
  const num = (s: string) => (s === '*' ? -1 : parseInt(s, 10));
  return { allow: true, type: m[1]!, major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
}
