/**
 * The messages a --workers group exchanges over node:cluster's IPC channel. Only state that
 * must be the same on every worker travels: brute-force blocks, and the stats the endpoints
 * sum. Requests, bodies and sessions never do.
 */
import type { WorkerSummary } from '../stats/index.js';
import type { MetricsJson } from './cluster-ledger.js';

/** The token key a group shares when no --token-key file is given (workers read and forget it). */
export const GROUP_TOKEN_KEY_ENV = '_PORTCULLIS_GROUP_TOKEN_KEY';
/** Set for the one worker that runs the group's scheduled jobs (retention), so they run once, not N times. */
export const GROUP_LEADER_ENV = '_PORTCULLIS_GROUP_LEADER';

/** worker → primary */
export type ToPrimary =
  | { type: 'portcullis:ask'; id: number; what: 'workers' | 'metrics' }
  | { type: 'portcullis:auth-failure'; ip: string }
  | { type: 'portcullis:collected'; id: number; summary: WorkerSummary; metrics?: MetricsJson }
  /** Sent every second, so a worker killed outright leaves at most a second of counts untold. */
  | { type: 'portcullis:counters'; summary: WorkerSummary };

/** primary → worker */
export type ToWorker =
  | { type: 'portcullis:answer'; id: number; value?: unknown; error?: string }
  | { type: 'portcullis:collect'; id: number; metrics: boolean }
  | { type: 'portcullis:block'; ip: string; ms: number };

export function isOurs(m: unknown): m is { type: string } {
  return typeof m === 'object' && m !== null && String((m as { type?: unknown }).type).startsWith('portcullis:');
}
