import { parseGroup, parsePasswd } from '../../runtime/user/resolve-user';
import { readTextInRoot } from '../../util/fs-at';

/**
 * `--chown=user[:group]` as moby's parseChownFlag: a name is looked up in the destination
 * root's /etc/passwd and /etc/group; without a group, the user's string names the group too.
 */
export function resolveChown(rootFd: number, spec: string): { uid: number; gid: number } {
  const [user, group = user] = spec.split(':', 2) as [string, string?];
  const numeric = (s: string): number | undefined => (/^\d+$/.test(s) ? Number(s) : undefined);
  let uid = numeric(user);
  if (uid === undefined) {
    const entry = parsePasswd(readInRoot(rootFd, '/etc/passwd')).find((p) => p.name === user);
    if (!entry) throw new Error(`unable to convert uid/gid chown string to host mapping: can't find uid for user ${user}: no such user: ${user}`);
    uid = entry.uid;
  }
  let gid = numeric(group);
  if (gid === undefined) {
    const entry = parseGroup(readInRoot(rootFd, '/etc/group')).find((g) => g.name === group);
    if (!entry) throw new Error(`unable to convert uid/gid chown string to host mapping: can't find gid for group ${group}: no such group: ${group}`);
    gid = entry.gid;
  }
  return { uid, gid };
}

/** `--chmod=0755`: octal only, as BuildKit's classic form. */
export function parseChmod(spec: string): number {
  if (!/^[0-7]{1,4}$/.test(spec)) throw new Error(`invalid chmod parameter: ${spec}: only octal modes are supported`);
  return parseInt(spec, 8);
}

function readInRoot(rootFd: number, file: string): string {
  return readTextInRoot(rootFd, file) ?? '';
}
