/**
 * The path of a request through the gateway: its context is built once (request id, client
 * view from trusted forwarded headers, route), then the passes in src/gateway/passes/ run in
 * the order listed below until one answers. Access log, stats and webhooks are written once,
 * when the response is done.
 */
import { newRequestId } from './request-id.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BlockList } from 'node:net';
import type { Backend } from '../backends/backend.js';
import type { AccessLog } from './access-log.js';
import type { RequestContext } from './context.js';
import type { CorsPolicy } from './cors.js';
import { resolveClient } from './forwarded.js';
import { classifyRoute } from '../oci/route.js';
import { sendError } from '../oci/errors.js';
import type { AuthService } from '../auth/index.js';
import type { Stats } from '../stats/index.js';
import type { UserAgentPolicy } from '../policy/user-agent.js';
import { identifyClient } from '../policy/client-type.js';
import { createSearchIndex } from './search.js';
import type { Notifier } from './webhooks.js';
import { recordWhenDone } from './record.js';
import { runPasses, type Pass } from './passes/pass.js';
import { statsEndpoints } from './passes/stats-endpoints.js';
import { apiHeaders } from './passes/api-headers.js';
import { cors as corsPass } from './passes/cors.js';
import { draining } from './passes/draining.js';
import { userAgentPolicy } from './passes/user-agent.js';
import { tokenService } from './passes/token-service.js';
import { v1Search } from './passes/v1-search.js';
import { registryApiOnly } from './passes/registry-api-only.js';
import { repositoryBrowser } from './passes/ui.js';
import { authentication } from './passes/authentication.js';
import { catalogFilter } from './passes/catalog-filter.js';
import { toBackend } from './passes/backend.js';
import { countBodyBytes } from './body-bytes.js';
import { usageExtension } from './passes/usage-extension.js';

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

  const done = recordWhenDone({ accessLog, stats, notifier: deps.notifier, search });

  // The pipeline, in order. A pass for a feature that is off is not in the list.
  const authOn = auth?.enabled ? auth : undefined;
  const passes = [
    stats && statsEndpoints(stats),
    apiHeaders({ hsts: deps.hsts }),
    cors && corsPass(cors),
    draining(deps.draining),
    userAgents && userAgentPolicy(userAgents, logger, stats),
    authOn && tokenService(authOn),
    v1Search(search, authOn),
    repositoryBrowser,
    registryApiOnly,
    authOn && authentication(authOn, stats),
    authOn && catalogFilter(authOn),
    usageExtension(backend),
    toBackend(backend),
  ].filter((p): p is Pass => typeof p === 'function');

  return (req, res) => {
    const socket = req.socket;
    const ua = req.headers['user-agent'];
    const client = identifyClient(ua);
    const ctx: RequestContext = {
      id: (req.headers['x-request-id'] as string | undefined)?.slice(0, 128) ?? newRequestId(),
      req,
      res,
      startNs: process.hrtime.bigint(),
      client: resolveClient(req, deps.trustedProxies, deps.publicUrl),
      route: classifyRoute(req.method!, req.url!),
      userAgent: ua,
      clientType: client.type,
      clientVersion: client.version,
      bodyBytesIn: countBodyBytes(req),
      socketWrittenStart: socket.bytesWritten,
    };
    res.on('close', () => done(ctx));
    runPasses(passes, ctx).catch((err: Error) => {
      logger.error({ err, reqId: ctx.id, method: req.method, path: req.url }, 'internal error');
      deps.onInternalError?.(err, ctx);
      if (!res.headersSent) sendError(res, 'INTERNAL', 'internal error in portcullis', { requestId: ctx.id });
      else res.destroy();
    });
  };
}
