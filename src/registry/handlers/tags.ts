/**
 * GET /v2/<name>/tags/list (distribution-spec "Content Discovery: Listing Tags", end-8a/8b) and
 * GET /v2/_catalog (registry:2's extension, same pagination rules).
 */
import { RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { sendJson } from '../http.js';
import { TAG } from '../../oci/names.js';
import type { RequestInfo } from '../routes.js';

/**
 * Lexical (byte-wise, Go `sort.Strings`) order, entries after `last`, at most `n`.
 * Link rel="next" only when more entries remain; n=0 → empty list and no Link.
 */
export function paginate(all: string[], query: URLSearchParams, path: string): { page: string[]; link?: string } {
  const sorted = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const nRaw = query.get('n');
  let n: number | undefined;
  if (nRaw !== null && nRaw !== '') {
    if (!/^\d+$/.test(nRaw))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: nRaw });
    n = Number(nRaw);
  }
  const last = query.get('last');
  const after = last ? sorted.filter((t) => t > last) : sorted;
  if (n === undefined) return { page: after };
  const page = after.slice(0, n);
  if (n === 0 || after.length <= n) return { page };
  const next = `${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1])}`;
  return { page, link: `<${next}>; rel="next"` };
}

export async function listTags(ctx: CoreContext, r: RequestInfo): Promise<void> {
  if (!(await ctx.repos.exists(r.name)))
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: r.name });
  const tags = (await ctx.repos.listTags(r.name)).filter((t) => TAG.test(t));
  const { page, link } = paginate(tags, r.query, `/v2/${r.name}/tags/list`);
  sendJson(r.res, 200, { name: r.name, tags: page }, link ? { link } : {});
}

export async function listCatalog(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const repos = await ctx.repos.listRepositories();
  const { page, link } = paginate(repos, r.query, '/v2/_catalog');
  sendJson(r.res, 200, { repositories: page }, link ? { link } : {});
}
