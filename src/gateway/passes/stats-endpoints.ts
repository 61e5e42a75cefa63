/**
 * The built-in endpoints (/nginx_status, /metrics, /-/stats, /_ping, /_status) come first: they
 * answer load balancers and monitoring without auth, and they are not access-logged, like
 * nginx's stub_status location with `access_log off`.
 */
import type { Stats } from '../../stats/index.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function statsEndpoints(stats: Stats): Pass {
  return (ctx) => {
    if (!stats.handle(ctx.req, ctx.res, ctx.client.ip, ctx.route.path)) return NEXT;
    ctx.quiet = true;
    return ANSWERED;
  };
}
