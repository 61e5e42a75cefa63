/**
 * When manifests were last pulled and a repository last pushed to or pulled from, recorded
 * cheaply and kept across restarts, for retention rules ("keep tags pulled within 30d"), cache
 * eviction and the repository browser.
 *
 * A pull costs a map update in memory; every `flushIntervalMs` (and on close) each repository
 * that saw traffic gets one read-merge-write of its usage document:
 *
 *   repositories/<name>/_usage     {"pulled":{"sha256:…":<ms>,…},"lastPulledAt":<ms>,"lastPushedAt":<ms>}
 *
 * Merging keeps the later time of each entry, so two instances on one storage both land their
 * pulls unless they flush the same repository at the same instant (then one interval of one
 * instance's pulls is lost: these are "at least this recent" figures, never used to keep
 * anything alive longer than asked). A crash loses at most one interval.
 */
import type { Logger } from 'pino';
import type { Storage } from '../storage/types.js';
import { PeriodicFlush } from './periodic-flush.js';

export interface RepositoryUsage {
  /** Manifest digest → epoch ms of its last GET (by tag or by digest). */
  pulled: Record<string, number>;
  lastPulledAt?: number;
  lastPushedAt?: number;
}

interface Pending {
  pulled: Map<string, number>;
  lastPushedAt?: number;
}

function usageKey(repo: string): string {
  return `repositories/${repo}/_usage`;
}

function parseUsage(buf: Buffer | null): RepositoryUsage {
  if (!buf) return { pulled: {} };
  try {
    const doc = JSON.parse(buf.toString('utf8')) as Partial<RepositoryUsage>;
    const pulled: Record<string, number> = {};
    for (const [k, v] of Object.entries(doc.pulled ?? {})) if (typeof v === 'number') pulled[k] = v;
    return {
      pulled,
      ...(typeof doc.lastPulledAt === 'number' ? { lastPulledAt: doc.lastPulledAt } : {}),
      ...(typeof doc.lastPushedAt === 'number' ? { lastPushedAt: doc.lastPushedAt } : {}),
    };
  } catch {
    return { pulled: {} }; // torn or foreign: start again rather than fail a pull
  }
}

const later = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

export interface UsageRecorderOptions {
  now?: () => number;
  flushIntervalMs?: number;
  logger?: Logger;
}

export class UsageRecorder {
  private pending = new Map<string, Pending>();
  /**
   * The figures a flush is writing. Until the write lands, storage does not have them and
   * `pending` no longer does: a read in between (the browser, a retention run deciding what
   * was pulled recently) must still see them.
   */
  private writing = new Map<string, Pending>();
  private readonly periodic: PeriodicFlush;
  readonly now: () => number;

  constructor(
    private readonly storage: Storage,
    private readonly opts: UsageRecorderOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.periodic = new PeriodicFlush(() => this.write(), opts.flushIntervalMs);
  }

  /** Flush on an interval until stop(); the timer never keeps the process alive. */
  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  private entry(repo: string): Pending {
    let p = this.pending.get(repo);
    if (!p) {
      p = { pulled: new Map() };
      this.pending.set(repo, p);
    }
    return p;
  }

  notePull(repo: string, digest: string): void {
    this.entry(repo).pulled.set(digest, this.now());
  }

  notePush(repo: string): void {
    this.entry(repo).lastPushedAt = this.now();
  }

  /** Stored figures merged with what this process has not flushed yet. */
  async read(repo: string): Promise<RepositoryUsage> {
    // What is in memory now, taken before the storage read: a flush that lands during the read
    // moves these figures into storage, which the read may have missed. Merging keeps the later
    // time of each entry, so counting a figure twice is harmless.
    const unwritten = [this.writing.get(repo), this.pending.get(repo)];
    const stored = parseUsage(await this.storage.readMeta(usageKey(repo)));
    return [...unwritten, this.writing.get(repo), this.pending.get(repo)].reduce((u, p) => this.merge(u, p), stored);
  }

  /** Drop entries of manifests that are gone (retention, deletes), so the document stays small. */
  async forget(repo: string, digests: Iterable<string>): Promise<void> {
    await this.flush();
    const doc = parseUsage(await this.storage.readMeta(usageKey(repo)));
    let changed = false;
    for (const d of digests) {
      if (d in doc.pulled) {
        delete doc.pulled[d];
        changed = true;
      }
    }
    if (changed) await this.storage.writeMeta(usageKey(repo), JSON.stringify(doc));
  }

  /** Write every repository with unflushed figures (one flush at a time). */
  flush(): Promise<void> {
    return this.periodic.flush();
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.writing = batch;
    try {
      await this.writeBatch(batch);
    } finally {
      this.writing = new Map();
    }
  }

  private async writeBatch(batch: Map<string, Pending>): Promise<void> {
    for (const [repo, p] of batch) {
      try {
        const stored = parseUsage(await this.storage.readMeta(usageKey(repo)));
        await this.storage.writeMeta(usageKey(repo), JSON.stringify(this.merge(stored, p)));
      } catch (e) {
        // Keep the figures for the next flush rather than lose them to a storage hiccup.
        const now = this.entry(repo);
        for (const [d, at] of p.pulled) now.pulled.set(d, later(now.pulled.get(d), at)!);
        now.lastPushedAt = later(now.lastPushedAt, p.lastPushedAt);
        this.opts.logger?.warn({ err: e, repository: repo }, 'usage: could not record pull/push times');
      }
    }
  }

  private merge(stored: RepositoryUsage, p: Pending | undefined): RepositoryUsage {
    if (!p) return stored;
    const pulled = { ...stored.pulled };
    let lastPulledAt = stored.lastPulledAt;
    for (const [d, at] of p.pulled) {
      pulled[d] = later(pulled[d], at)!;
      lastPulledAt = later(lastPulledAt, at);
    }
    return {
      pulled,
      ...(lastPulledAt !== undefined ? { lastPulledAt } : {}),
      ...(later(stored.lastPushedAt, p.lastPushedAt) !== undefined
        ? { lastPushedAt: later(stored.lastPushedAt, p.lastPushedAt) }
        : {}),
    };
  }
}
