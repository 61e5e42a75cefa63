/**
 * portcullis' usage extension of the registry API (not in the OCI spec), for the repository
 * browser and operators:
 *
 *   GET /v2/<name>/_portcullis/usage           one repository's tag count, bytes and last push/pull
 *   GET /v2/_portcullis/usage?n=100&last=<name> a page of repositories with the same figures,
 *                                              plus the store total; Link rel="next" as the catalog
 *
 * Every figure is read from a document kept up to date as content changes (see
 * usage/repository-sizes.ts, usage/store-total.ts): a page costs two small reads per
 * repository on it, whatever the size of the store.
 */
import { RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { sendJson } from '../http.js';
import type { RequestInfo } from '../routes.js';
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

export async function repositoryUsage(ctx: CoreContext, r: RequestInfo): Promise<void> {
  if (!(await ctx.repos.exists(r.name)))
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: r.name });
  sendJson(r.res, 200, await figures(ctx, r.name));
}

export async function catalogUsage(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const q = pageQuery(r.query);
  const n = Math.min(q.n ?? USAGE_PAGE_DEFAULT, USAGE_PAGE_MAX);
  const { names, more } = n === 0 ? { names: [], more: false } : await ctx.repos.index.page(q.last, n);
  const [repositories, store] = await Promise.all([
    Promise.all(names.map((name) => figures(ctx, name))),
    ctx.storeTotal?.read() ?? null,
  ]);
  const headers: Record<string, string> = {};
  if (more && names.length > 0)
    headers.link = `</v2/_portcullis/usage?n=${n}&last=${encodeURIComponent(names[names.length - 1]!)}>; rel="next"`;
  sendJson(r.res, 200, { repositories, store }, headers);
}
