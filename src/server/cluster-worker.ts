/**
 * A worker's side of a --workers group: what serve() is given so that auth and stats act for
 * the whole group. Wrong passwords are reported to the primary, which counts them per client
 * IP for all workers and tells every worker when an address is blocked. The stats endpoints
 * ask the primary, which collects every worker's counters, so a scrape gets the same answer
 * whichever worker it lands on.
 */
import cluster from 'node:cluster';
import type { AuthService } from '../auth/index.js';
import type { GroupView, Stats, StatsGroup, WorkerSummary } from '../stats/index.js';
import { GROUP_LEADER_ENV, GROUP_TOKEN_KEY_ENV, isOurs, type ToPrimary, type ToWorker } from './cluster-messages.js';

const ASK_TIMEOUT_MS = 10_000;
/** How often a worker tells the primary its connection counters (what is lost if it is killed outright). */
const REPORT_MS = 1_000;

export interface WorkerGroup {
  id: number;
  /** This worker runs the group's scheduled jobs (retention). */
  leader: boolean;
  /** The group's token key when no --token-key file is given. */
  tokenKeyText?: string;
  reportAuthFailure(clientIp: string): void;
  stats: StatsGroup;
  /** Called once serve() has built its stats and auth. */
  attach(parts: { stats: Stats; auth?: AuthService }): void;
}

/** The group this process works in, or undefined when it is not a worker. */
export function joinGroup(): WorkerGroup | undefined {
  if (!cluster.isWorker || !cluster.worker) return undefined;
  const id = cluster.worker.id;
  const tokenKeyText = process.env[GROUP_TOKEN_KEY_ENV];
  // Not passed on to anything this process starts.
  delete process.env[GROUP_TOKEN_KEY_ENV];
  const leader = process.env[GROUP_LEADER_ENV] === '1';
  delete process.env[GROUP_LEADER_ENV];
  const startedAt = Date.now();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let stats: Stats | undefined;
  let auth: AuthService | undefined;

  const send = (m: ToPrimary): void => {
    // The primary can go between the check and the write; the callback keeps that EPIPE from
    // becoming an unhandled 'error' (node:cluster ends a worker whose primary is gone anyway).
    if (process.connected) process.send!(m, undefined, undefined, () => {});
  };
  const summarize = (s: Stats): WorkerSummary => ({
    id,
    pid: process.pid,
    uptime: Math.round((Date.now() - startedAt) / 1000),
    connections: s.snapshot(),
  });

  process.on('message', (m: unknown) => {
    if (!isOurs(m)) return;
    const msg = m as ToWorker;
    if (msg.type === 'portcullis:answer') {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error));
      else p?.resolve(msg.value);
    } else if (msg.type === 'portcullis:collect' && stats) {
      const summary = summarize(stats);
      if (!msg.metrics) send({ type: 'portcullis:collected', id: msg.id, summary });
      else
        stats.metricsJson().then(
          (metrics) => send({ type: 'portcullis:collected', id: msg.id, summary, metrics }),
          // Without metrics the primary still gets the counters; the scrape lacks this worker.
          () => send({ type: 'portcullis:collected', id: msg.id, summary }),
        );
    } else if (msg.type === 'portcullis:block') auth?.blockClient(msg.ip, msg.ms);
  });

  function ask<T>(what: 'workers' | 'metrics'): Promise<T> {
    const reqId = next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(reqId);
        reject(new Error(`the primary did not answer "${what}" within ${ASK_TIMEOUT_MS / 1000}s`));
      }, ASK_TIMEOUT_MS);
      timer.unref();
      pending.set(reqId, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      send({ type: 'portcullis:ask', id: reqId, what });
    });
  }

  return {
    id,
    leader,
    tokenKeyText,
    reportAuthFailure: (ip) => send({ type: 'portcullis:auth-failure', ip }),
    stats: { view: () => ask<GroupView>('workers'), metrics: () => ask<string>('metrics') },
    attach(parts) {
      stats = parts.stats;
      auth = parts.auth;
      const s = parts.stats;
      // unref(): the report never keeps a draining worker alive.
      setInterval(() => send({ type: 'portcullis:counters', summary: summarize(s) }), REPORT_MS).unref();
    },
  };
}
