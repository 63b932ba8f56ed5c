/**
 * Docker token-auth scopes and grants: `repository:team-a/app:pull,push`,
 * `registry:catalog:*`. A scope names what a client asks for; a grant (the JWT's `access`
 * claim entry) what the token server allowed.
 */
import type { AccessScope, RepositoryAction } from '../hooks';

export type { AccessScope, RepositoryAction };
export const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete'];

/** One entry of a token's `access` claim, the shape distribution's token auth uses. */
export interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Parses one `scope` parameter value, which may hold several space-separated scopes.
 * The type ends at the first colon and the actions start after the last one, so a
 * name holding a colon (`repository:host:5000/x:pull`) survives, as in distribution.
 * Malformed entries are dropped, as distribution's token servers do.
 */
export function parseScopes(value: string): ResourceAccess[] {
  const out: ResourceAccess[] = [];
  for (const item of value.split(' ')) {
    const first = item.indexOf(':');
    const last = item.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = item.slice(0, first);
    const name = item.slice(first + 1, last);
    const actions = item.slice(last + 1).split(',').filter((a) => a !== '');
    if (name === '' || actions.length === 0) continue;
    out.push({ type, name, actions: [...new Set(actions)] });
  }
  return out;
}

export function formatScope(access: ResourceAccess | AccessScope): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/** True when the granted list allows every action of `need`. */
export function grantsCover(granted: readonly ResourceAccess[], need: AccessScope): boolean {
  return missingActions(granted, need).length === 0;
}

export function missingActions(granted: readonly ResourceAccess[], need: AccessScope): string[] {
  const have = new Set<string>();
  for (const g of granted) {
    if (g.type === need.type && g.name === need.name) for (const a of g.actions) have.add(a);
  }
  if (have.has('*')) return [];
  return need.actions.filter((a) => !have.has(a));
}
