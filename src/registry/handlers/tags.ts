/**
 * GET /v2/<name>/tags/list (distribution-spec "Content Discovery: Listing Tags", end-8a/8b) and
 * GET /v2/_catalog (registry:2's extension, same pagination rules).
 */
import { RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { sendJson } from '../http.js';
import { TAG } from '../../oci/names.js';
import type { RequestInfo } from '../routes.js';

/** `n` (page size; absent: everything) and `last` (start after) of a listing request. */
export function pageQuery(query: URLSearchParams): { n?: number; last?: string } {
  const nRaw = query.get('n');
  let n: number | undefined;
  if (nRaw !== null && nRaw !== '') {
    if (!/^\d+$/.test(nRaw))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: nRaw });
    n = Number(nRaw);
  }
  const last = query.get('last');
  return { n, last: last ? last : undefined };
}

/**
 * Paginate a list already in memory (lexical order, entries after `last`, at most `n`, Link
 * rel="next" only when more remain; n=0 → empty list and no Link). For answers that are not
 * read from the storage a page at a time.
 */
export function paginate(all: string[], query: URLSearchParams, path: string): { page: string[]; link?: string } {
  const sorted = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const { n, last } = pageQuery(query);
  const after = last ? sorted.filter((t) => t > last) : sorted;
  if (n === undefined) return { page: after };
  const page = after.slice(0, n);
  if (n === 0 || after.length <= n) return { page };
  const next = `${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}`;
  return { page, link: `<${next}>; rel="next"` };
}

/**
 * Lexical (byte-wise, Go `sort.Strings`) order, entries after `last`, at most `n`.
 * Link rel="next" only when more entries remain; n=0 → empty list and no Link.
 * The storage answers one page at a time, so a page costs what the page holds.
 */
async function listPage(
  query: URLSearchParams,
  path: string,
  load: (after: string | undefined, limit: number) => Promise<{ names: string[]; more: boolean }>,
): Promise<{ page: string[]; link?: string }> {
  const { n, last } = pageQuery(query);
  if (n === 0) return { page: [] };
  const { names, more } = await load(last, n ?? Number.POSITIVE_INFINITY);
  if (n === undefined || !more || names.length === 0) return { page: names };
  const next = `${path}?n=${n}&last=${encodeURIComponent(names[names.length - 1]!)}`;
  return { page: names, link: `<${next}>; rel="next"` };
}

export async function listTags(ctx: CoreContext, r: RequestInfo): Promise<void> {
  if (!(await ctx.repos.exists(r.name)))
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: r.name });
  const { page, link } = await listPage(r.query, `/v2/${r.name}/tags/list`, async (after, limit) => {
    const p = await ctx.repos.listTagsPage(r.name, after, limit);
    // Anything that is not a tag (a stray file) is dropped; the page may then be a little short.
    return { names: p.names.filter((t) => TAG.test(t)), more: p.more };
  });
  sendJson(r.res, 200, { name: r.name, tags: page }, link ? { link } : {});
}

export async function listCatalog(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const { page, link } = await listPage(r.query, '/v2/_catalog', (after, limit) => ctx.repos.index.page(after, limit));
  sendJson(r.res, 200, { repositories: page }, link ? { link } : {});
}
