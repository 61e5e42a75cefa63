/**
 * What happens once per request, when its response is done (or the client went away): the
 * access log line, the stats record, a webhook event for a push or delete, and the pushed
 * repository made searchable at once. Built-in endpoints (`ctx.quiet`) leave no trace.
 */
import { BROWSE_HEADER } from '../oci/browse-header.js';
import type { Stats } from '../stats/index.js';
import type { AccessLog } from './access-log.js';
import { bytesIn, bytesOut, type RequestContext } from './context.js';
import type { SearchIndex } from './search.js';
import { eventFor, type Notifier } from './webhooks.js';

export interface RecordDeps {
  accessLog: AccessLog;
  stats?: Stats;
  notifier?: Notifier;
  search?: Pick<SearchIndex, 'pushed'>;
}

export function recordWhenDone(deps: RecordDeps): (ctx: RequestContext) => void {
  return (ctx) => {
    const status = ctx.res.statusCode;
    if (ctx.quiet) return;
    const op = ctx.route.operation;
    if (op === 'manifest_put' && status < 300 && ctx.route.repository) deps.search?.pushed(ctx.route.repository);
    if (deps.notifier) {
      const event = eventFor(ctx, status);
      if (event) deps.notifier.notify({ events: [event] });
    }
    deps.accessLog.write(ctx, status);
    deps.stats?.record({
      method: ctx.req.method ?? 'GET',
      status,
      operation: ctx.route.operation,
      repository: ctx.route.repository,
      reference: ctx.route.reference,
      user: ctx.user,
      clientType: ctx.clientType,
      clientVersion: ctx.clientVersion,
      browse: ctx.req.headers[BROWSE_HEADER] !== undefined,
      bytesIn: bytesIn(ctx),
      bytesOut: bytesOut(ctx),
      durationMs: Number(process.hrtime.bigint() - ctx.startNs) / 1e6,
      upstreamMs: ctx.upstreamMs,
      upstreamError: ctx.upstreamError,
      upstreamMember: ctx.upstreamMember,
    });
  };
}
