/**
 * What the dashboard shows that Prometheus counters cannot: pushes and pulls as events
 * (who pushed what, how big, how long), per-second rates over the last minutes, status
 * codes and the busiest repositories and clients.
 *
 * Pushes and pulls are derived from request records, because the gateway only sees HTTP:
 *  - push: a 2xx manifest PUT. Its size is the blob bytes uploaded (PATCH/PUT/POST bodies
 *    under /blobs/uploads/) to that repository by the same user and client since their
 *    last push; its duration runs from the start of the first such upload (or of the
 *    manifest PUT when no blob was uploaded, e.g. a re-tag).
 *  - pull: a 2xx manifest GET. Blob GETs from the same user and client on that repository
 *    within PULL_WINDOW_MS add their bytes and stretch the duration, so the row grows
 *    while the layers download. A GET by digest that follows a pull of the same repository
 *    by the same user and client within the window (the platform manifest after an index)
 *    continues that pull rather than counting a second one.
 */
import { Ring, SeriesRing } from './ring.js';
import type { RequestRecord } from './types.js';

export interface TransferEvent {
  kind: 'push' | 'pull';
  /** Start time, ms since epoch. */
  at: number;
  repository: string;
  reference: string;
  user?: string;
  client: string;
  clientVersion?: string;
  bytes: number;
  durationMs: number;
}

export interface Tally {
  name: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  pushes: number;
  pulls: number;
}

export interface ActivitySnapshot {
  recent: TransferEvent[];
  statusCodes: Record<string, number>;
  topRepositories: Tally[];
  topClients: Tally[];
  totals: { requests: number; bytesIn: number; bytesOut: number; pushes: number; pulls: number; errors: number };
}

const PULL_WINDOW_MS = 60_000;
const PENDING_LIMIT = 1_000;
const PENDING_MAX_AGE_MS = 3_600_000;
export const SERIES_SECONDS = 600;

interface PendingPush {
  bytes: number;
  firstAt: number;
  lastAt: number;
}

/** Bounded name → tally map; when full, the quietest half is dropped at the next prune. */
class Tallies {
  readonly map = new Map<string, Tally>();
  constructor(private readonly capacity: number) {}
  get(name: string): Tally {
    let t = this.map.get(name);
    if (!t) {
      t = { name, requests: 0, bytesIn: 0, bytesOut: 0, pushes: 0, pulls: 0 };
      this.map.set(name, t);
    }
    return t;
  }
  top(n: number): Tally[] {
    return [...this.map.values()].sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name)).slice(0, n);
  }
  prune(): void {
    if (this.map.size <= this.capacity) return;
    const keep = this.top(Math.floor(this.capacity / 2));
    this.map.clear();
    for (const t of keep) this.map.set(t.name, t);
  }
}

export class Activity {
  private readonly recent: Ring<TransferEvent>;
  private readonly pendingPushes = new Map<string, PendingPush>();
  private readonly openPulls = new Map<string, TransferEvent>();
  private readonly status = new Float64Array(600);
  private readonly repositories: Tallies;
  private readonly clients: Tallies;
  readonly series = new SeriesRing(['requests', 'bytesIn', 'bytesOut', 'errors'], SERIES_SECONDS);
  private readonly totals = { requests: 0, bytesIn: 0, bytesOut: 0, pushes: 0, pulls: 0, errors: 0 };
  // The current second's counts, pushed into `series` by tick().
  private secRequests = 0;
  private secIn = 0;
  private secOut = 0;
  private secErrors = 0;

  constructor(
    private readonly topN: number,
    recentCapacity: number,
    private readonly onPush: (repository: string) => void,
    private readonly onPull: (repository: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.recent = new Ring(recentCapacity);
    this.repositories = new Tallies(Math.max(100, topN * 10));
    this.clients = new Tallies(Math.max(100, topN * 10));
  }

  record(r: RequestRecord): void {
    this.secRequests++;
    this.secIn += r.bytesIn;
    this.secOut += r.bytesOut;
    this.totals.requests++;
    this.totals.bytesIn += r.bytesIn;
    this.totals.bytesOut += r.bytesOut;
    if (r.status >= 500) {
      this.secErrors++;
      this.totals.errors++;
    }
    if (r.status > 0 && r.status < 600) this.status[r.status]!++;
    const client = this.clients.get(r.clientType);
    client.requests++;
    client.bytesIn += r.bytesIn;
    client.bytesOut += r.bytesOut;
    const repo = r.repository;
    if (!repo) return;
    const tally = this.repositories.get(repo);
    tally.requests++;
    tally.bytesIn += r.bytesIn;
    tally.bytesOut += r.bytesOut;

    const ok = r.status >= 200 && r.status < 300;
    switch (r.operation) {
      case 'blob_upload':
        // POST opens the session (0 bytes, but the push's clock starts), PATCH/PUT carry data.
        if (r.status < 400 && r.method !== 'GET' && r.method !== 'HEAD' && r.method !== 'DELETE') this.uploaded(r);
        break;
      case 'manifest_put':
        if (ok) this.pushed(r, tally, client);
        break;
      case 'manifest_get':
        // Looking at an image in the repository browser is not pulling it.
        if (ok && !r.browse) this.pulled(r, tally, client);
        break;
      case 'blob_get':
        if (ok || r.status === 206) this.downloaded(r);
        break;
    }
  }

  /** Called once a second: closes the current second's sample and drops stale state. */
  tick(): void {
    this.series.push([this.secRequests, this.secIn, this.secOut, this.secErrors]);
    this.secRequests = this.secIn = this.secOut = this.secErrors = 0;
    const now = this.now();
    for (const [k, p] of this.pendingPushes) if (now - p.lastAt > PENDING_MAX_AGE_MS) this.pendingPushes.delete(k);
    for (const [k, e] of this.openPulls) if (now - (e.at + e.durationMs) > PULL_WINDOW_MS) this.openPulls.delete(k);
    this.repositories.prune();
    this.clients.prune();
  }

  snapshot(): ActivitySnapshot {
    const statusCodes: Record<string, number> = {};
    for (let i = 0; i < this.status.length; i++) if (this.status[i]) statusCodes[i] = this.status[i]!;
    return {
      recent: this.recent.toArray().map((e) => ({ ...e })),
      statusCodes,
      topRepositories: this.repositories.top(this.topN),
      topClients: this.clients.top(this.topN),
      totals: { ...this.totals },
    };
  }

  private key(r: RequestRecord): string {
    return `${r.repository}\u0000${r.user ?? ''}\u0000${r.clientType}`;
  }

  private uploaded(r: RequestRecord): void {
    const key = this.key(r);
    const now = this.now();
    let p = this.pendingPushes.get(key);
    if (!p) {
      if (this.pendingPushes.size >= PENDING_LIMIT) {
        // Oldest first in insertion order: drop it rather than grow without bound.
        const oldest = this.pendingPushes.keys().next().value;
        if (oldest !== undefined) this.pendingPushes.delete(oldest);
      }
      p = { bytes: 0, firstAt: now - r.durationMs, lastAt: now };
      this.pendingPushes.set(key, p);
    }
    p.bytes += r.bytesIn;
    p.lastAt = now;
  }

  private pushed(r: RequestRecord, tally: Tally, client: Tally): void {
    const key = this.key(r);
    const now = this.now();
    const p = this.pendingPushes.get(key);
    this.pendingPushes.delete(key);
    const at = p ? Math.min(p.firstAt, now - r.durationMs) : now - r.durationMs;
    this.recent.push({
      kind: 'push',
      at,
      repository: r.repository!,
      reference: r.reference ?? '',
      user: r.user,
      client: r.clientType,
      clientVersion: r.clientVersion,
      bytes: p?.bytes ?? 0,
      durationMs: now - at,
    });
    tally.pushes++;
    client.pushes++;
    this.totals.pushes++;
    this.onPush(r.repository!);
  }

  private pulled(r: RequestRecord, tally: Tally, client: Tally): void {
    const key = this.key(r);
    const now = this.now();
    const open = this.openPulls.get(key);
    const byDigest = (r.reference ?? '').includes(':');
    if (open && byDigest && now - (open.at + open.durationMs) <= PULL_WINDOW_MS) {
      open.bytes += r.bytesOut;
      open.durationMs = now - open.at;
      return;
    }
    const event: TransferEvent = {
      kind: 'pull',
      at: now - r.durationMs,
      repository: r.repository!,
      reference: r.reference ?? '',
      user: r.user,
      client: r.clientType,
      clientVersion: r.clientVersion,
      bytes: r.bytesOut,
      durationMs: r.durationMs,
    };
    this.recent.push(event);
    this.openPulls.set(key, event);
    if (this.openPulls.size > PENDING_LIMIT) {
      const oldest = this.openPulls.keys().next().value;
      if (oldest !== undefined) this.openPulls.delete(oldest);
    }
    tally.pulls++;
    client.pulls++;
    this.totals.pulls++;
    this.onPull(r.repository!);
  }

  private downloaded(r: RequestRecord): void {
    if (this.openPulls.size === 0) return; // skip building the key: the common case on a busy mirror of blobs
    const open = this.openPulls.get(this.key(r));
    if (!open) return;
    const now = this.now();
    if (now - (open.at + open.durationMs) > PULL_WINDOW_MS) return;
    open.bytes += r.bytesOut;
    open.durationMs = now - open.at;
  }
}
