import { RegistryError } from '../../errcodes';
import { sendJson } from '../http';
import { OCI_INDEX } from '../manifests';
import { checkDigest } from '../names';
import type { RouteContext } from './context';

/** The listings: `/v2/<name>/tags/list`, `/v2/_catalog` (both paginated) and `/v2/<name>/referrers/<digest>`. */

/** Entries per catalog page when the client names none (distribution's default). */
export const DEFAULT_CATALOG_PAGE = 1000;

/** `n`: a count of entries, a non-negative integer. */
function pageSize(ctx: RouteContext): number | undefined {
  const raw = ctx.query.get('n');
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid number of results requested: ${JSON.stringify(raw)}`, { detail: { n: raw } });
  }
  return Number(raw);
}

/**
 * One page of a sorted list: entries after `last`, at most `n`; a `Link` header with
 * `rel="next"` when more follow (the spec's pagination).
 */
function paginate(ctx: RouteContext, all: string[], path: string, n: number | undefined): { page: string[]; headers: Record<string, string> } {
  const last = ctx.query.get('last');
  const after = last === null ? all : all.filter((entry) => entry > last);
  const page = n === undefined ? after : after.slice(0, n);
  const headers: Record<string, string> = {};
  if (n !== undefined && n > 0 && after.length > page.length) {
    const next = new URLSearchParams({ n: String(n), last: page[page.length - 1]! });
    headers.Link = `<${path}?${next.toString()}>; rel="next"`;
  }
  return { page, headers };
}

export async function listTags(ctx: RouteContext): Promise<void> {
  const n = pageSize(ctx);
  if (!(await ctx.store.exists(ctx.name))) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: ctx.name } });
  const { page, headers } = paginate(ctx, await ctx.store.listTags(ctx.name), `/v2/${ctx.name}/tags/list`, n);
  sendJson(ctx.res, 200, { name: ctx.name, tags: page }, headers);
}

/** The catalog lists only the repositories the caller may pull: names are information too. */
export async function listCatalog(ctx: RouteContext): Promise<void> {
  const n = pageSize(ctx) ?? DEFAULT_CATALOG_PAGE;
  const visible: string[] = [];
  for (const name of await ctx.store.listRepositories()) {
    if (await ctx.authz.permits(ctx.auth, { type: 'repository', name, actions: ['pull'] })) visible.push(name);
  }
  const { page, headers } = paginate(ctx, visible, '/v2/_catalog', n);
  sendJson(ctx.res, 200, { repositories: page }, headers);
}

/** OCI 1.1 referrers: the manifests whose `subject` is the digest, as an image index; `artifactType` filters. */
export async function listReferrers(ctx: RouteContext, param: string): Promise<void> {
  const subject = checkDigest(param);
  const filter = ctx.query.get('artifactType');
  let referrers = await ctx.store.listReferrers(ctx.name, subject);
  const headers: Record<string, string> = {};
  if (filter !== null && filter !== '') {
    referrers = referrers.filter((r) => r.artifactType === filter);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  sendJson(ctx.res, 200, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: referrers }, headers, OCI_INDEX);
}
