/**
 * /_ping and /_status, as the old docker-registry (v0.x) answered them (seed 002):
 * `/_ping` → `true`; `/_status` → {host, services, failures} — here with version and
 * uptime added, services as objects with their health, and 503 while a service is down so
 * a load balancer's health check can use it directly.
 */
import { hostname } from 'node:os';
import type { ServerResponse, IncomingMessage } from 'node:http';
import type { RetiredCounts, ServiceHealth, StatsGroup, WorkerSummary } from './types.js';
import type { ConnectionSnapshot } from './connection-tracker.js';
import { groupTotals } from './group-sum.js';

export interface StatusDocument {
  host: string;
  version: string;
  /** Seconds since the stats library started (≈ process start). */
  uptime: number;
  services: ServiceHealth[];
  /** Unhealthy services: name → reason, like the seed's `{"redis": "unconfigured"}`. */
  failures: Record<string, string>;
  /** With --workers: the group's connection counters (live workers summed, plus the retired ones' counts), each worker's own, and what the workers that died had counted. */
  group?: { connections: ConnectionSnapshot; workers: WorkerSummary[]; retired: RetiredCounts };
}

const HEALTH_TIMEOUT_MS = 5_000;

export function servePing(req: IncomingMessage, res: ServerResponse): void {
  const body = 'true';
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Run the health callback with a deadline; a throw or timeout becomes an unhealthy pseudo-service. */
export async function checkHealth(health: () => Promise<ServiceHealth[]>): Promise<ServiceHealth[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      health(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`health check did not answer within ${HEALTH_TIMEOUT_MS} ms`)),
          HEALTH_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    return [
      {
        name: 'health',
        kind: 'upstream',
        healthy: false,
        detail: err instanceof Error ? err.message : String(err),
        failures: 1,
      },
    ];
  } finally {
    clearTimeout(timer);
  }
}

export function statusDocument(version: string, startedAt: number, services: ServiceHealth[]): StatusDocument {
  const failures: Record<string, string> = {};
  for (const s of services) if (!s.healthy) failures[s.name] = s.detail ?? 'unhealthy';
  return { host: hostname(), version, uptime: Math.round((Date.now() - startedAt) / 1000), services, failures };
}

export async function serveStatus(
  req: IncomingMessage,
  res: ServerResponse,
  version: string,
  startedAt: number,
  health: () => Promise<ServiceHealth[]>,
  group?: StatsGroup,
): Promise<void> {
  const doc = statusDocument(version, startedAt, await checkHealth(health));
  if (group) {
    const view = await group
      .view()
      .catch(() => ({ workers: [], retired: { workers: 0, accepted: 0, handled: 0, requests: 0 } }));
    doc.group = { connections: groupTotals(view), workers: view.workers, retired: view.retired };
  }
  const body = JSON.stringify(doc);
  if (res.destroyed) return;
  res.writeHead(Object.keys(doc.failures).length ? 503 : 200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
