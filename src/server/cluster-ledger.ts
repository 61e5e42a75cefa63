/**
 * What a --workers group has counted, including the workers that are gone. nginx keeps its
 * counters in shared memory, so a worker that dies takes nothing with it; here each worker
 * counts in its own memory, so the primary keeps the last counts each worker reported and,
 * when a worker dies, moves them into the group's retired totals. The group's cumulative
 * figures (accepts, handled, requests, every Prometheus counter and histogram) therefore never
 * go backwards when a worker is replaced. Gauges (active connections, in-flight requests) are
 * not kept: a dead worker's connections are closed.
 *
 * Workers report their connection counters every second and at each collection, so a worker
 * killed outright loses at most its last second of counts; its metrics are kept as of the last
 * /metrics scrape, which is what a scraper has seen, so they never go backwards either.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ConnectionSnapshot, RetiredCounts } from '../stats/index.js';

/** One registry's metrics as prom-client's getMetricsAsJSON() gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Counters and histograms only grow; these are what a dead worker leaves to the group. */
const CUMULATIVE = new Set(['counter', 'histogram']);

export class GroupLedger {
  private readonly lastCounts = new Map<number, ConnectionSnapshot>();
  private readonly lastMetrics = new Map<number, MetricsJson>();
  private retiredMetrics: MetricsJson = [];
  /** Merging a dead worker's metrics is asynchronous; an exposition waits for it. */
  private merging: Promise<void> = Promise.resolve();
  readonly retired: RetiredCounts = { workers: 0, accepted: 0, handled: 0, requests: 0 };

  counted(worker: number, connections: ConnectionSnapshot): void {
    this.lastCounts.set(worker, connections);
  }

  measured(worker: number, metrics: MetricsJson): void {
    this.lastMetrics.set(worker, metrics);
  }

  /** A worker exited: its last counts join the retired totals. */
  retire(worker: number): void {
    const counts = this.lastCounts.get(worker);
    const metrics = this.lastMetrics.get(worker);
    this.lastCounts.delete(worker);
    this.lastMetrics.delete(worker);
    this.retired.workers++;
    if (counts) {
      this.retired.accepted += counts.accepted;
      this.retired.handled += counts.handled;
      this.retired.requests += counts.requests;
    }
    if (metrics) {
      const kept = metrics.filter((m) => CUMULATIVE.has(String(m.type)));
      // Merged into one set, so the primary's memory does not grow with every worker replaced.
      this.merging = this.merging.then(async () => {
        this.retiredMetrics = await AggregatorRegistry.aggregate([this.retiredMetrics, kept]).getMetricsAsJSON();
      });
    }
  }

  /** The group's Prometheus exposition: the live workers' metrics plus the retired counters. */
  async exposition(live: MetricsJson[]): Promise<string> {
    await this.merging;
    const all = this.retiredMetrics.length ? [...live, this.retiredMetrics] : live;
    return AggregatorRegistry.aggregate(all).metrics();
  }
}
