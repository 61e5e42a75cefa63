/**
 * The public types of the stats library (re-exported by index.ts). They live apart so the
 * implementation files can import them without importing index.ts.
 */
import type { Logger } from 'pino';
import type { Operation } from '../oci/operations.js';
import type { ConnectionSnapshot } from './connection-tracker.js';

export interface ServiceHealth {
  name: string;
  kind: 'upstream' | 'storage';
  healthy: boolean;
  detail?: string;
  failures: number;
}

export interface StatsOptions {
  /** CIDRs allowed to read stats endpoints (default ['127.0.0.0/8','::1/128']); others get 403 JSON. */
  allow: string[];
  /** '/nginx_status' */
  stubStatusPath: string;
  /** '/metrics' */
  metricsPath: string;
  /** '/-/stats'; its event stream is `${dashboardPath}/events`. */
  dashboardPath: string;
  /** Repository/client label cardinality bound (default 20, the rest => "other"). */
  topN: number;
  version: string;
  health: () => Promise<ServiceHealth[]>;
  /** Pull-through mirrors' counters, when the backend has mirrors. */
  mirrors?: () => MirrorStats[];
  /** Storage per repository (the `topN` largest, the rest summed) and the store total (embedded core). */
  storage?: (topN: number) => Promise<StorageStats>;
  logger: Logger;
  /** Set in a worker of a --workers group: the endpoints answer for the whole group. */
  group?: StatsGroup;
}

/** One worker of a group, as /_status lists it. */
export interface WorkerSummary {
  id: number;
  pid: number;
  uptime: number;
  connections: ConnectionSnapshot;
}

/** What the workers that have died had counted, kept by the primary so group totals never go backwards. */
export interface RetiredCounts {
  /** How many workers have died or been replaced since the group started. */
  workers: number;
  accepted: number;
  handled: number;
  requests: number;
}

/** The group as the primary sees it: each live worker, and the counts of those gone. */
export interface GroupView {
  workers: WorkerSummary[];
  retired: RetiredCounts;
}

/** What the stats endpoints ask the group (the primary collects it from every worker). */
export interface StatsGroup {
  /** Every live worker's connection counters, and the retired workers' counts. */
  view(): Promise<GroupView>;
  /** The Prometheus exposition of every worker's metrics, aggregated. */
  metrics(): Promise<string>;
}

/** One pull-through mirror's activity since start, and its cache size. */
export interface MirrorStats {
  prefix: string;
  remote: string;
  hits: number;
  misses: number;
  bytesFromRemote: number;
  staleServes: number;
  cacheBytes: number;
}

export interface RequestRecord {
  method: string;
  status: number;
  operation: Operation;
  repository?: string;
  reference?: string;
  user?: string;
  clientType: string;
  clientVersion?: string;
  /** A read the repository browser marked as looking, not pulling (it is no pull in the figures). */
  browse?: boolean;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  upstreamMs?: number;
  upstreamError?: string;
  upstreamMember?: string;
}

/** What the embedded core reports about stored bytes (src/registry/usage/usage-survey.ts). */
export interface StorageStats {
  store: { bytes: number; blobs: number } | null;
  repositories: { name: string; bytes: number; tags: number }[];
  other: { repositories: number; bytes: number; tags: number };
  complete: boolean;
}
