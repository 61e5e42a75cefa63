/**
 * The path of a request through the gateway, as a list of small named steps:
 *   1. context: request id, client view (trusted forwarded headers), route
 *   2. built-in endpoints (/nginx_status, /metrics, /-/stats, /_ping, /_status)
 *   3. CORS preflight
 *   4. user-agent policy
 *   5. token service, docker search (/v1/), then authentication and authorization
 *   6. backend (upstream registry or the embedded core)
 * Access log and stats are written once, when the response is done.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BlockList } from 'node:net';
import type { Backend } from '../backends/backend.js';
import type { AccessLog } from './access-log.js';
import type { RequestContext } from './context.js';
import { bytesIn, bytesOut } from './context.js';
import type { CorsPolicy } from './cors.js';
import { resolveClient, publicOrigin } from './forwarded.js';
import { classifyRoute } from '../oci/route.js';
import { sendError, sendRegistryError, API_VERSION, API_VERSION_HEADER } from '../oci/errors.js';
import type { AuthService } from '../auth/index.js';
import type { Stats } from '../stats/index.js';
import type { UserAgentPolicy } from '../policy/user-agent.js';
import { identifyClient } from '../policy/client-type.js';
import { filterCatalogResponse } from './catalog-filter.js';
import { createSearchIndex } from './search.js';
import { eventFor, type Notifier } from './webhooks.js';

export interface GatewayDeps {
  backend: Backend;
  auth?: AuthService;
  stats?: Stats;
  userAgents?: UserAgentPolicy;
  cors?: CorsPolicy;
  accessLog: AccessLog;
  logger: Logger;
  trustedProxies: BlockList;
  publicUrl?: URL;
  hsts: boolean;
  /** Registry event notifications (webhooks), if configured. */
  notifier?: Notifier;
  /** Told about every internal error (logged once with its stack here). */
  onInternalError?: (err: Error, ctx: RequestContext) => void;
  /** Set while shutting down: new requests get 503 instead of reaching the backend. */
  draining: () => boolean;
}

export type Gateway = (req: IncomingMessage, res: ServerResponse) => void;

export function createGateway(deps: GatewayDeps): Gateway {
  const { backend, auth, stats, userAgents, cors, accessLog, logger } = deps;

  const search = createSearchIndex(backend);

  function done(ctx: RequestContext): void {
    const status = ctx.res.statusCode;
    if (ctx.quiet) return;
    const op = ctx.route.operation;
    if ((op === 'manifest_put' || op === 'manifest_delete') && status < 300) search.invalidate();
    if (deps.notifier) {
      const event = eventFor(ctx, status);
      if (event) deps.notifier.notify({ events: [event] });
    }
    accessLog.write(ctx, status);
    stats?.record({
      method: ctx.req.method!,
      status,
      operation: ctx.route.operation,
      repository: ctx.route.repository,
      reference: ctx.route.reference,
      user: ctx.user,
      clientType: ctx.clientType,
      clientVersion: ctx.clientVersion,
      bytesIn: bytesIn(ctx),
      bytesOut: bytesOut(ctx),
      durationMs: Number(process.hrtime.bigint() - ctx.startNs) / 1e6,
      upstreamMs: ctx.upstreamMs,
      upstreamError: ctx.upstreamError,
      upstreamMember: ctx.upstreamMember,
    });
  }

  async function handle(ctx: RequestContext): Promise<void> {
    const { req, res, route } = ctx;
    if (stats?.handle(req, res, ctx.client.ip, route.path)) {
      ctx.quiet = true;
      return;
    }
    // Every response, the gateway's own errors included, says which API it speaks (pitfalls #7).
    res.setHeader(API_VERSION_HEADER, API_VERSION);
    if (deps.hsts && ctx.client.scheme === 'https') res.setHeader('strict-transport-security', 'max-age=31536000');
    if (cors) {
      if (cors.preflight(req, res)) return;
      cors.decorate(req, res);
    }
    if (deps.draining()) {
      sendError(res, 'UNAVAILABLE', 'portcullis is shutting down', undefined, {
        headers: { connection: 'close', 'retry-after': '5' },
      });
      return;
    }
    const blockedBy = userAgents?.blockedBy(ctx.userAgent);
    if (blockedBy) {
      stats?.blockedAgent(ctx.clientType);
      logger.info(
        { ua: ctx.userAgent, rule: blockedBy, ip: ctx.client.ip },
        'refused a client too old for registry API v2',
      );
      sendError(res, 'NOT_FOUND', 'this client cannot speak registry API v2; upgrade docker to 1.6 or later', {
        userAgent: ctx.userAgent ?? null,
        rule: blockedBy,
      });
      return;
    }
    const { path } = route;
    if (auth?.enabled && path === auth.tokenPath) {
      await auth.handleTokenRequest(req, res, { clientIp: ctx.client.ip, publicOrigin: publicOrigin(ctx.client) });
      return;
    }
    if (path === '/v1/_ping') {
      search.ping(req, res);
      return;
    }
    if (path === '/v1/search') {
      // Searching needs what listing the catalog needs; results are filtered per user.
      const result = auth?.enabled
        ? await auth.check({
            method: req.method!,
            headers: req.headers,
            clientIp: ctx.client.ip,
            publicOrigin: publicOrigin(ctx.client),
            route: classifyRoute('GET', '/v2/_catalog'),
          })
        : { ok: true as const, user: undefined };
      if (!result.ok) {
        req.resume();
        sendRegistryError(res, result.error);
        return;
      }
      ctx.user = result.user;
      await search.search(req, res, (repos) => (auth?.enabled ? auth.filterCatalog(result.user, repos) : repos));
      return;
    }
    if (!route.api) {
      sendError(res, 'NOT_FOUND', `${path} is not part of the registry API`, { path });
      return;
    }
    if (auth?.enabled) {
      const result = await auth.check({
        method: req.method!,
        headers: req.headers,
        clientIp: ctx.client.ip,
        publicOrigin: publicOrigin(ctx.client),
        route,
      });
      if (!result.ok) {
        if (result.reason !== 'missing') stats?.authFailure(result.reason);
        // Drain the body of a refused upload so the client sees the 401, not a reset.
        req.resume();
        sendRegistryError(res, result.error);
        return;
      }
      ctx.user = result.user;
      if (route.operation === 'catalog') filterCatalogResponse(res, (repos) => auth.filterCatalog(result.user, repos));
    }
    await backend.handle(ctx);
  }

  return (req, res) => {
    const socket = req.socket;
    const ua = req.headers['user-agent'];
    const client = identifyClient(ua);
    const ctx: RequestContext = {
      id: (req.headers['x-request-id'] as string | undefined)?.slice(0, 128) ?? randomUUID(),
      req,
      res,
      startNs: process.hrtime.bigint(),
      client: resolveClient(req, deps.trustedProxies, deps.publicUrl),
      route: classifyRoute(req.method!, req.url!),
      userAgent: ua,
      clientType: client.type,
      clientVersion: client.version,
      socketReadStart: socket.bytesRead,
      socketWrittenStart: socket.bytesWritten,
    };
    res.on('close', () => done(ctx));
    handle(ctx).catch((err: Error) => {
      logger.error({ err, reqId: ctx.id, method: req.method, path: req.url }, 'internal error');
      deps.onInternalError?.(err, ctx);
      if (!res.headersSent) sendError(res, 'INTERNAL', 'internal error in portcullis', { requestId: ctx.id });
      else res.destroy();
    });
  };
}
