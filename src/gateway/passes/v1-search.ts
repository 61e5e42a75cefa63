/**
 * `docker search` speaks the v1 index API to the registry host: `/v1/_ping`, then `/v1/search`.
 * Searching needs what listing the catalog needs, and the results are filtered to what the
 * caller may pull.
 */
import type { AuthService } from '../../auth/index.js';
import { sendRegistryError } from '../../oci/errors.js';
import { publicOrigin } from '../forwarded.js';
import type { SearchIndex } from '../search.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function v1Search(index: SearchIndex, auth?: AuthService): Pass {
  return async (ctx) => {
    const { req, res, route } = ctx;
    if (route.path === '/v1/_ping') {
      index.ping(req, res);
      return ANSWERED;
    }
    if (route.path !== '/v1/search') return NEXT;
    if (!auth?.enabled) {
      await index.search(req, res, (repos) => repos);
      return ANSWERED;
    }
    const result = await auth.check({
      method: req.method ?? 'GET',
      headers: req.headers,
      clientIp: ctx.client.ip,
      publicOrigin: publicOrigin(ctx.client),
      route,
      listing: true,
    });
    if (!result.ok) {
      req.resume();
      sendRegistryError(res, result.error);
      return ANSWERED;
    }
    ctx.user = result.user;
    await index.search(req, res, (repos) => auth.filterCatalog(result.user, repos));
    return ANSWERED;
  };
}
