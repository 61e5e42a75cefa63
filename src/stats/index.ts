/**
 * Live stats for the gateway: nginx-compatible connection accounting and stub_status,
 * Prometheus metrics, /_ping and /_status, and a live dashboard.
 *
 * The gateway calls attach() for each listener, record() once per finished request,
 * authFailure()/blockedAgent() when it turns a client away, and handle() early in its
 * pipeline to let the built-in endpoints answer.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { Activity } from './activity.js';
import { createAllowList, DEFAULT_ALLOW } from './allow-list.js';
import { ConnectionTracker } from './connection-tracker.js';
import { EventHub } from './dashboard-events.js';
import { GatewayMetrics, type MetricsJson } from './metrics.js';
import { checkHealth, servePing, serveStatus } from './status-endpoints.js';
import { serveStubStatus } from './stub-status.js';
import type { GroupView, RequestRecord, ServiceHealth, StatsOptions, StorageStats } from './types.js';
import { groupTotals } from './group-sum.js';
import type { ConnectionSnapshot } from './connection-tracker.js';
import { lazyPage } from '../web/lazy-page.js';

const serveDashboardPage = lazyPage(async () => {
  const page = await import('./dashboard-page.js');
  return { html: page.DASHBOARD_HTML, csp: page.DASHBOARD_CSP };
});

export type {
  MirrorStats,
  RequestRecord,
  ServiceHealth,
  StatsOptions,
  StatsGroup,
  GroupView,
  RetiredCounts,
  WorkerSummary,
} from './types.js';
export type { ConnectionSnapshot } from './connection-tracker.js';
export { DEFAULT_ALLOW } from './allow-list.js';
export { renderStubStatus } from './stub-status.js';

export interface Stats {
  /** Connection accounting for a listener (http.Server or https.Server). Counts accepts/handled/requests and reading/writing/waiting exactly like nginx (TLS handshake = reading; request headers read → writing until the response finishes or the socket closes; idle keep-alive = waiting). */
  attach(server: Server): void;
  /** Called once per request after the response finished or the connection closed. */
  record(r: RequestRecord): void;
  authFailure(reason: string): void;
  blockedAgent(clientType: string): void;
  /** A webhook event was dropped (queue full or retries exhausted) for this endpoint. */
  webhookDropped(endpoint: string): void;
  /** The gateway caught an unexpected error (a bug, not a client or backend failure). */
  internalError(): void;
  /**
   * Serves the built-in endpoints if `path` (the request path without its query) is one of them.
   * Returns true if it answered. /_ping needs no allow-list; the others check `clientIp` against `allow`.
   */
  handle(req: IncomingMessage, res: ServerResponse, clientIp: string, path: string): boolean;
  /** This process's connection counters (a group's primary sums them over its workers). */
  snapshot(): ConnectionSnapshot;
  /** This process's metrics, for a group's aggregation. */
  metricsJson(): Promise<MetricsJson>;
  close(): void;
}

/** What the dashboard gets about a --workers group: the totals, each live worker, the retired counts. */
type DashboardGroup = GroupView & { connections: ConnectionSnapshot };

/** How many pushes/pulls the dashboard keeps. */
const RECENT_TRANSFERS = 50;
/** How often the dashboard refreshes the backend health while someone watches. */
const HEALTH_REFRESH_MS = 5_000;

export function createStats(opts: StatsOptions): Stats {
  const startedAt = Date.now();
  const host = hostname();
  const allow = createAllowList(opts.allow.length ? opts.allow : DEFAULT_ALLOW);
  const tracker = new ConnectionTracker();
  const metrics = new GatewayMetrics({
    topN: opts.topN,
    version: opts.version,
    connections: () => tracker.snapshot(),
    health: opts.health,
    mirrors: opts.mirrors,
    storage: opts.storage,
  });
  const activity = new Activity(
    opts.topN,
    RECENT_TRANSFERS,
    (repo) => metrics.push(repo),
    (repo) => metrics.pull(repo),
  );
  const hub = new EventHub(opts.logger);
  const eventsPath = `${opts.dashboardPath.replace(/\/+$/, '')}/events`;
  // Every registry request passes through handle(): reject /v2/ paths with one prefix test,
  // unless an operator put a stats path there.
  const skipV2 = ![opts.stubStatusPath, opts.metricsPath, opts.dashboardPath].some((p) => p.startsWith('/v2'));

  let health: ServiceHealth[] | null = null;
  let healthAt = 0;
  let healthPending = false;
  // Stored bytes per repository, refreshed with the health while someone watches the dashboard.
  let storage: StorageStats | null = null;
  const refreshHealth = (): void => {
    if (healthPending) return;
    healthPending = true;
    opts.storage?.(opts.topN).then(
      (s) => {
        storage = s;
      },
      () => {},
    );
    checkHealth(opts.health)
      .then((h) => {
        health = h;
        healthAt = Date.now();
      })
      .finally(() => {
        healthPending = false;
      });
  };

  const state = () => ({
    t: Date.now(),
    host,
    version: opts.version,
    uptime: Math.round((Date.now() - startedAt) / 1000),
    pid: process.pid,
    conn: tracker.snapshot(),
    activity: activity.snapshot(),
    health,
    mirrors: opts.mirrors?.() ?? [],
    storage,
  });

  // In a --workers group the dashboard shows the group's connections and every worker, asked
  // of the primary, so the page reads the same whichever worker serves it. If the primary does
  // not answer, the page still gets this worker's own figures.
  const dashboardState = (): Promise<ReturnType<typeof state> & { group?: DashboardGroup }> => {
    const own = state();
    if (!opts.group) return Promise.resolve(own);
    return opts.group.view().then(
      (view) => ({ ...own, group: { connections: groupTotals(view), workers: view.workers, retired: view.retired } }),
      () => own,
    );
  };

  // One timer closes each second's sample (always: so the history is there when someone
  // opens the page) and feeds the dashboards that are open. unref(): never keeps the process up.
  const timer = setInterval(() => {
    activity.tick();
    if (hub.size === 0) return;
    if (Date.now() - healthAt >= HEALTH_REFRESH_MS) refreshHealth();
    const series = activity.series.toJSON();
    const point: Record<string, number> = {};
    for (const [k, v] of Object.entries(series)) point[k] = v[v.length - 1] ?? 0;
    void dashboardState().then((s) => hub.broadcast('tick', { point, state: s }));
  }, 1_000);
  timer.unref();

  const deny = (res: ServerResponse): void => {
    const body = JSON.stringify({
      errors: [{ code: 'DENIED', message: 'stats are not available from this address', detail: null }],
    });
    res.writeHead(403, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const serveMetrics = (req: IncomingMessage, res: ServerResponse): void => {
    (opts.group ? opts.group.metrics() : metrics.metrics()).then(
      (body) => {
        if (res.destroyed) return;
        res.writeHead(200, {
          'content-type': metrics.contentType,
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-cache',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        opts.logger.error({ err }, 'collecting metrics failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('collecting metrics failed\n');
      },
    );
  };

  const groupFailed = (res: ServerResponse, err: unknown): void => {
    opts.logger.error({ err }, 'collecting stats from the workers failed');
    if (res.headersSent) return void res.end();
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('collecting stats from the workers failed\n');
  };

  const readOnly = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method === 'GET' || req.method === 'HEAD') return true;
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
    res.end();
    return false;
  };

  return {
    attach(server: Server): void {
      tracker.attach(server);
    },

    record(r: RequestRecord): void {
      metrics.record(r);
      activity.record(r);
    },

    authFailure(reason: string): void {
      metrics.authFailure(reason);
    },

    blockedAgent(clientType: string): void {
      metrics.blockedAgent(clientType);
    },

    webhookDropped(endpoint: string): void {
      metrics.webhookDropped(endpoint);
    },

    internalError(): void {
      metrics.internalError();
    },

    handle(req: IncomingMessage, res: ServerResponse, clientIp: string, path: string): boolean {
      if (skipV2 && path.startsWith('/v2')) return false;
      if (path === '/_ping') {
        if (readOnly(req, res)) servePing(req, res);
        return true;
      }
      const isStub = path === opts.stubStatusPath;
      const isMetrics = path === opts.metricsPath;
      const isDashboard = path === opts.dashboardPath || path === `${opts.dashboardPath}/`;
      const isEvents = path === eventsPath;
      const isStatus = path === '/_status';
      if (!isStub && !isMetrics && !isDashboard && !isEvents && !isStatus) return false;
      if (!allow.allows(clientIp)) {
        deny(res);
        return true;
      }
      if (isStub) {
        // stub_status answers 405 itself, like nginx; in a group it sums the workers, as nginx does.
        if (!opts.group) serveStubStatus(req, res, tracker.snapshot());
        else
          opts.group.view().then(
            (view) => serveStubStatus(req, res, groupTotals(view)),
            (err: unknown) => groupFailed(res, err),
          );
        return true;
      }
      if (!readOnly(req, res)) return true;
      if (isMetrics) serveMetrics(req, res);
      else if (isStatus) void serveStatus(req, res, opts.version, startedAt, opts.health, opts.group);
      else if (isDashboard) void serveDashboardPage(req, res);
      else {
        if (health === null) refreshHealth();
        void dashboardState().then((s) => {
          if (!res.destroyed) hub.open(req, res, { series: activity.series.toJSON(), state: s });
        });
      }
      return true;
    },

    snapshot: () => tracker.snapshot(),
    metricsJson: () => metrics.metricsJson(),

    close(): void {
      clearInterval(timer);
      hub.close();
      tracker.detach();
      metrics.close();
    },
  };
}
