import { promises as fs } from 'node:fs';
import { native } from '../../native';
import { invalidArgument, isENOENT } from '../../errors';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: memberships from /etc/group plus --group-add. */
  additionalGids: number[];
  /** From the passwd entry; "/" when there is none (Docker's default HOME). */
  home: string;
  /** Set when the user matched a passwd entry. */
  name?: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2147483647;

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const f = trimmed.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const f = trimmed.split(':');
    const gid = Number(f[2]);
    if (!f[0] || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

function numericId(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  if (n > MAX_ID) throw invalidArgument('uids and gids must be in range 0-2147483647');
  return n;
}

/**
 * Resolves Docker's `--user` spec (name, uid, name:group, uid:gid, "" = root) against
 * already-parsed passwd and group entries, following moby/sys/user GetExecUser: a
 * numeric id needs no entry; a name must match one; supplementary groups come from
 * /etc/group only when no group was given explicitly.
 */
export function resolveUserFromEntries(spec: string, passwd: PasswdEntry[], groups: GroupEntry[], groupAdd: readonly string[] = []): ResolvedUser {
  const [userArg = '', groupArg = ''] = splitOnce(spec.trim(), ':');
  const result: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  let matched: PasswdEntry | undefined;

  if (userArg === '') {
    matched = passwd.find((p) => p.uid === 0);
  } else {
    const uid = numericId(userArg);
    matched = uid === undefined ? passwd.find((p) => p.name === userArg) : passwd.find((p) => p.uid === uid);
    if (!matched && uid === undefined) throw invalidArgument(`unable to find user ${userArg}: no matching entries in passwd file`);
    if (!matched) result.uid = uid!;
  }
  if (matched) {
    result.uid = matched.uid;
    result.gid = matched.gid;
    result.home = matched.home || '/';
    result.name = matched.name;
  }

  if (groupArg !== '') {
    const gid = numericId(groupArg);
    const group = groups.find((g) => g.name === groupArg || (gid !== undefined && g.gid === gid));
    if (group) result.gid = group.gid;
    else if (gid !== undefined) result.gid = gid;
    else throw invalidArgument(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (matched) {
    for (const g of groups) {
      if (g.members.includes(matched.name) && !result.additionalGids.includes(g.gid)) result.additionalGids.push(g.gid);
    }
  }

  for (const extra of groupAdd) {
    const gid = numericId(extra);
    const group = groups.find((g) => g.name === extra || (gid !== undefined && g.gid === gid));
    const resolved = group?.gid ?? gid;
    if (resolved === undefined) throw invalidArgument(`Unable to find group ${extra}: no matching entries in group file`);
    if (!result.additionalGids.includes(resolved)) result.additionalGids.push(resolved);
  }
  return result;
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/** Reads a file inside the rootfs; symlinks and `..` cannot leave it. Missing → "". */
async function readInRoot(rootfs: string, file: string): Promise<string> {
  try {
    const hostPath = native.resolveInRoot(rootfs, file);
    const st = await fs.stat(hostPath);
    if (!st.isFile()) return '';
    return await fs.readFile(hostPath, 'utf8');
  } catch (err: unknown) {
    if (isENOENT(err) || (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOTDIR')) return '';
    throw err;
  }
}

/** Resolves `--user` against <rootfs>/etc/passwd and /etc/group (plus --group-add). */
export async function resolveUser(rootfs: string, spec: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const [passwdText, groupText] = await Promise.all([readInRoot(rootfs, '/etc/passwd'), readInRoot(rootfs, '/etc/group')]);
  return resolveUserFromEntries(spec, parsePasswd(passwdText), parseGroup(groupText), groupAdd);
}

/**
 * The process user dockerd hands the runtime: its supplementary groups start with the primary
 * group (moby's fix for CVE-2022-36109), then the image's memberships and --group-add.
 */
export function processUser(user: ResolvedUser): { uid: number; gid: number; additionalGids: number[] } {
  return { uid: user.uid, gid: user.gid, additionalGids: [...new Set([user.gid, ...user.additionalGids])] };
}
