/**
 * portcullis' usage extension of the registry API (not in the OCI spec), for the repository
 * browser and operators:
 *
 *   GET /v2/<name>/_portcullis/usage           one repository's tag count, bytes and last push/pull
 *   GET /v2/_portcullis/usage?n=100&last=<name> a page of repositories with the same figures,
 *                                              plus the store total; Link rel="next" as the catalog
 *   GET /v2/<name>/_portcullis/usage/tags?n=&last= a page of the repository's tags, each with its
 *                                              digest, last push and last pull; Link as tags/list
 *
 * Every figure is read from a document kept up to date as content changes (see
 * usage/repository-sizes.ts, usage/store-total.ts, usage/usage-recorder.ts): a page of
 * repositories costs two small reads per repository on it, a page of tags one listing page, one
 * tag document per tag on it and the repository's usage document, whatever the size of the store.
 */
import { RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { sendJson } from '../http.js';
import type { RequestInfo } from '../routes.js';
import { TAG } from '../../oci/names.js';
import { pageQuery } from './tags.js';

/** Default and largest page of the listing: each entry costs two document reads. */
export const USAGE_PAGE_DEFAULT = 100;
export const USAGE_PAGE_MAX = 1000;

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

async function figures(ctx: CoreContext, name: string) {
  const [size, usage] = await Promise.all([ctx.repos.sizes.read(name), ctx.usage?.read(name)]);
  return {
    name,
    tags: size.tags,
    bytes: size.bytes,
    manifests: size.manifests,
    blobs: size.blobs,
    lastPushed: iso(usage?.lastPushedAt),
    lastPulled: iso(usage?.lastPulledAt),
  };
}

async function requireRepository(ctx: CoreContext, name: string): Promise<void> {
  if (!(await ctx.repos.exists(name)))
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
}

export async function repositoryUsage(ctx: CoreContext, r: RequestInfo): Promise<void> {
  await requireRepository(ctx, r.name);
  sendJson(r.res, 200, await figures(ctx, r.name));
}

/**
 * A page of repositories with their figures. `q=<text>` keeps only names containing the text
 * anywhere (lower-cased, as names are); the page and its Link work as without it, except that a
 * page may come back short, even empty, with a Link while the index of an old store is built.
 */
export async function catalogUsage(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const q = pageQuery(r.query);
  const n = Math.min(q.n ?? USAGE_PAGE_DEFAULT, USAGE_PAGE_MAX);
  const text = (r.query.get('q') ?? '').toLowerCase();
  const { names, more, scannedTo } =
    n === 0
      ? { names: [], more: false, scannedTo: undefined }
      : text
        ? await ctx.repos.search.page(text, q.last, n)
        : { ...(await ctx.repos.index.page(q.last, n)), scannedTo: undefined };
  const [repositories, store] = await Promise.all([
    Promise.all(names.map((name) => figures(ctx, name))),
    ctx.storeTotal?.read() ?? null,
  ]);
  const headers: Record<string, string> = {};
  const next = scannedTo ?? names[names.length - 1];
  if (more && next !== undefined) {
    const search = text ? `&q=${encodeURIComponent(text)}` : '';
    headers.link = `</v2/_portcullis/usage?n=${n}${search}&last=${encodeURIComponent(next)}>; rel="next"`;
  }
  sendJson(r.res, 200, { repositories, store }, headers);
}

/** One tag of the per-tag listing: what it points at, when it was set, when that manifest was last pulled. */
async function tagTimes(ctx: CoreContext, name: string, tag: string, pulled: Record<string, number>) {
  const doc = await ctx.repos.resolveTag(name, tag);
  if (!doc) return null; // deleted since the listing: not a tag any more
  // Tags written before push times were recorded: the document's own mtime is when it was set.
  const pushedAt = doc.pushedAt ?? (await ctx.repos.tagMtime(name, tag)) ?? undefined;
  return { tag, digest: doc.digest, lastPushed: iso(pushedAt), lastPulled: iso(pulled[doc.digest]) };
}

/**
 * A page of tags in tags/list's order and paging (same `n`, `last` and Link; `n` defaults to
 * 100, at most 1000). A pull is recorded per manifest digest, so a tag's last pull is the last
 * GET of the manifest it points at now (by this tag, another tag or the digest).
 */
export async function tagUsage(ctx: CoreContext, r: RequestInfo): Promise<void> {
  await requireRepository(ctx, r.name);
  const q = pageQuery(r.query);
  const n = Math.min(q.n ?? USAGE_PAGE_DEFAULT, USAGE_PAGE_MAX);
  const [page, usage] = await Promise.all([
    n === 0 ? { names: [], more: false } : ctx.repos.listTagsPage(r.name, q.last, n),
    ctx.usage?.read(r.name),
  ]);
  const pulled = usage?.pulled ?? {};
  const tags = await Promise.all(page.names.filter((t) => TAG.test(t)).map((t) => tagTimes(ctx, r.name, t, pulled)));
  const headers: Record<string, string> = {};
  const lastName = page.names[page.names.length - 1];
  if (page.more && lastName !== undefined)
    headers.link = `</v2/${r.name}/_portcullis/usage/tags?n=${n}&last=${encodeURIComponent(lastName)}>; rel="next"`;
  sendJson(r.res, 200, { name: r.name, tags: tags.filter((x) => x !== null) }, headers);
}
