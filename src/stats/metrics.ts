/**
 * Prometheus metrics (prom-client, a Registry of our own).
 *
 * record() runs once per request on the hot path, so it only bumps plain numbers in
 * pre-bound cells (array index or one Map lookup by number/string, no label objects, no
 * hashing); counters are copied into prom-client Counters by their collect() hook when
 * /metrics is scraped, histograms are FastHistogram (see histogram.ts). prom-client still
 * owns the exposition format, the default process/Node metrics and, later, cluster
 * aggregation (AggregatorRegistry works from getMetricsAsJSON(), which every metric here
 * answers like a native one).
 */
import type { Registry } from 'prom-client';
import type { ConnectionSnapshot } from './connection-tracker.js';
import { FastHistogram, type HistogramSeries } from './histogram.js';
import { LabelBound } from './label-bound.js';
import { METHODS, OPERATIONS, methodIndex, operationIndex } from './operations.js';
import type { MirrorStats, RequestRecord, ServiceHealth, StorageStats } from './types.js';
import { OTHER } from './label-bound.js';

const PREFIX = 'portcullis_';

/** What prom-client's registry answers with (Prometheus text format 0.0.4). */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One registry's metrics as prom-client's getMetricsAsJSON() gives them (what a group's primary merges). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * prom-client (with the @opentelemetry/api it requires, about 80 modules) is loaded with the first
 * scrape, not at start-up: a gateway nobody scrapes never holds it. The hot path never needed it.
 */
let prom: typeof import('prom-client');

/** Registry requests span a 1 ms HEAD to a many-minute multi-GB blob upload. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

interface Cell {
  labels: Record<string, string>;
  value: number;
}

/** A counter family whose cells are keyed by whatever the caller can compute without allocating. */
class Cells<K> {
  readonly map = new Map<K, Cell>();
  get(key: K, labels: () => Record<string, string>): Cell {
    let c = this.map.get(key);
    if (!c) {
      c = { labels: labels(), value: 0 };
      this.map.set(key, c);
    }
    return c;
  }
}

export interface MetricsOptions {
  topN: number;
  version: string;
  connections: () => ConnectionSnapshot;
  health: () => Promise<ServiceHealth[]>;
  mirrors?: () => MirrorStats[];
  storage?: (topN: number) => Promise<StorageStats>;
}

export class GatewayMetrics {
  private registry: Registry | undefined;
  private ready: Promise<Registry> | undefined;
  private readonly repositories: LabelBound;
  private readonly clients: LabelBound;
  private readonly small = new LabelBound(50); // reasons, error kinds, members: code-defined, bounded anyway

  private readonly requests = new Cells<number>();
  private readonly received = new Float64Array(OPERATIONS.length);
  private readonly sent = new Float64Array(OPERATIONS.length);
  private readonly clientRequests = new Cells<string>();
  private readonly upstreamErrors = new Cells<string>();
  private readonly authFailures = new Cells<string>();
  private readonly blocked = new Cells<string>();
  private readonly pushes = new Cells<string>();
  private readonly pulls = new Cells<string>();
  private readonly webhookDrops = new Cells<string>();
  private internalErrors = 0;
  private readonly duration: FastHistogram;
  private readonly durationByOp: HistogramSeries[];
  private readonly upstream: FastHistogram;
  private readonly upstreamByMember = new Map<string, HistogramSeries>();

  constructor(readonly opts: MetricsOptions) {
    this.repositories = new LabelBound(opts.topN);
    this.clients = new LabelBound(opts.topN);
    this.duration = new FastHistogram(
      `${PREFIX}request_duration_seconds`,
      'Time from request start to response end, by registry operation',
      ['operation'],
      DURATION_BUCKETS,
    );
    this.durationByOp = OPERATIONS.map((operation) => this.duration.child({ operation }));
    this.upstream = new FastHistogram(
      `${PREFIX}upstream_duration_seconds`,
      'Time spent waiting for the registry backend (upstream member or embedded storage)',
      ['member'],
      DURATION_BUCKETS,
    );
  }

  /** The prom-client registry with every metric, made (and prom-client loaded) on first use. */
  private build(): Promise<Registry> {
    this.ready ??= import('prom-client').then((pc) => {
      prom = pc;
      this.registry = new pc.Registry();
      this.registerAll(this.opts);
      return this.registry;
    });
    return this.ready;
  }

  private registerAll(opts: MetricsOptions): void {
    const registers = [this.registry!];
    // process_* and nodejs_* keep their standard, unprefixed names so stock Node.js
    // dashboards work; everything portcullis-specific carries the prefix.
    prom.collectDefaultMetrics({ register: this.registry! });

    new prom.Gauge({
      name: `${PREFIX}build_info`,
      help: 'portcullis version (value is always 1)',
      labelNames: ['version', 'node'],
      registers,
      // A --workers group merges its workers' metrics: the same fact from each, not a sum.
      aggregator: 'first',
    }).set({ version: opts.version, node: process.version }, 1);

    const connections = opts.connections;
    new prom.Gauge({
      name: `${PREFIX}connections`,
      help: 'Open client connections by state, as nginx counts them (reading: request header incomplete or TLS handshake; writing: request being processed or response being sent; waiting: idle keep-alive)',
      labelNames: ['state'],
      registers,
      collect() {
        const s = connections();
        this.set({ state: 'reading' }, s.reading);
        this.set({ state: 'writing' }, s.writing);
        this.set({ state: 'waiting' }, s.waiting);
      },
    });
    this.fromNumber(`${PREFIX}connections_accepted_total`, 'Accepted client connections', () => connections().accepted);
    this.fromNumber(
      `${PREFIX}connections_handled_total`,
      'Handled client connections (accepted minus those refused at the connection limit)',
      () => connections().handled,
    );

    this.fromCells(
      `${PREFIX}requests_total`,
      'Registry requests answered, by method, status and registry operation (stats endpoints excluded)',
      ['method', 'status', 'operation'],
      this.requests,
    );
    const received = this.received;
    const sent = this.sent;
    this.fromArray(
      `${PREFIX}received_bytes_total`,
      'Request body bytes received from clients, by registry operation',
      received,
    );
    this.fromArray(`${PREFIX}sent_bytes_total`, 'Response bytes sent to clients, by registry operation', sent);
    this.fromCells(
      `${PREFIX}client_requests_total`,
      'Registry requests by client type (docker, podman, skopeo, containerd, ...)',
      ['client'],
      this.clientRequests,
    );
    this.fromCells(
      `${PREFIX}upstream_errors_total`,
      'Failed attempts to reach the registry backend, by upstream member and error kind',
      ['member', 'kind'],
      this.upstreamErrors,
    );
    this.fromCells(
      `${PREFIX}auth_failures_total`,
      'Rejected authentication attempts, by reason',
      ['reason'],
      this.authFailures,
    );
    this.fromCells(
      `${PREFIX}blocked_user_agents_total`,
      'Requests refused because the client cannot speak Registry API v2, by client',
      ['client'],
      this.blocked,
    );
    this.fromCells(
      `${PREFIX}pushes_total`,
      `Image pushes (manifest PUT accepted), by repository (first ${opts.topN} repositories, the rest as "other")`,
      ['repository'],
      this.pushes,
    );
    this.fromCells(
      `${PREFIX}pulls_total`,
      `Image pulls (manifest GET answered; the repository browser's reads are not pulls), by repository (first ${opts.topN} repositories, the rest as "other")`,
      ['repository'],
      this.pulls,
    );

    this.fromCells(
      `${PREFIX}webhook_dropped_total`,
      'Webhook events dropped (queue full or retries exhausted), by endpoint',
      ['endpoint'],
      this.webhookDrops,
    );
    this.fromNumber(
      `${PREFIX}internal_errors_total`,
      'Unexpected errors caught by the gateway (bugs, not client or backend failures)',
      () => this.internalErrors,
    );

    this.registry!.registerMetric(this.duration as never);
    this.registry!.registerMetric(this.upstream as never);

    if (opts.mirrors) this.mirrorMetrics(opts.mirrors);
    if (opts.storage) this.storageMetrics(opts.storage, opts.topN);
    const health = opts.health;
    new prom.Gauge({
      name: `${PREFIX}service_up`,
      help: 'Whether a registry backend service (upstream member or storage) is healthy (1) or not (0)',
      labelNames: ['service', 'kind'],
      registers,
      // In a --workers group: up only while every worker finds it up.
      aggregator: 'min',
      async collect() {
        this.reset();
        try {
          for (const s of await health()) this.set({ service: s.name, kind: s.kind }, s.healthy ? 1 : 0);
        } catch {
          // A failing health probe must not fail the scrape; the series simply vanish.
        }
      },
    });
  }

  get contentType(): string {
    return this.registry?.contentType ?? CONTENT_TYPE;
  }

  async metrics(): Promise<string> {
    return (await this.build()).metrics();
  }

  /** This process's metrics for a group's primary to merge. */
  async metricsJson(): Promise<MetricsJson> {
    return (await this.build()).getMetricsAsJSON();
  }

  /** Hot path: a few integer/array updates, allocation only the first time a series appears. */
  record(r: RequestRecord): void {
    const op = operationIndex(r.operation);
    const m = methodIndex(r.method);
    const status = r.status | 0;
    // One numeric key per (method, status, operation): status < 1000, operations < 16.
    const key = (m * 1000 + status) * 16 + op;
    let cell = this.requests.map.get(key);
    if (!cell)
      cell = this.requests.get(key, () => ({
        method: METHODS[m]!,
        status: String(status),
        operation: OPERATIONS[op]!,
      }));
    cell.value++;
    this.durationByOp[op]!.observe(r.durationMs / 1000);
    this.received[op]! += r.bytesIn;
    this.sent[op]! += r.bytesOut;

    const client = r.clientType;
    let c = this.clientRequests.map.get(client);
    if (!c) c = this.clientRequests.get(client, () => ({ client: this.clients.label(client) }));
    c.value++;

    if (r.upstreamMs !== undefined || r.upstreamError !== undefined) {
      const member = r.upstreamMember ?? 'default';
      if (r.upstreamMs !== undefined) {
        let h = this.upstreamByMember.get(member);
        if (!h) {
          h = this.upstream.child({ member: this.small.label(member) });
          this.upstreamByMember.set(member, h);
        }
        h.observe(r.upstreamMs / 1000);
      }
      if (r.upstreamError !== undefined)
        this.bump(this.upstreamErrors, `${member}\u0000${r.upstreamError}`, () => ({
          member: this.small.label(member),
          kind: this.small.label(r.upstreamError),
        }));
    }
  }

  authFailure(reason: string): void {
    this.bump(this.authFailures, reason, () => ({ reason: this.small.label(reason) }));
  }

  blockedAgent(clientType: string): void {
    this.bump(this.blocked, clientType, () => ({ client: this.clients.label(clientType) }));
  }

  push(repository: string): void {
    this.bump(this.pushes, repository, () => ({ repository: this.repositories.label(repository) }));
  }

  pull(repository: string): void {
    this.bump(this.pulls, repository, () => ({ repository: this.repositories.label(repository) }));
  }

  webhookDropped(endpoint: string): void {
    this.bump(this.webhookDrops, endpoint, () => ({ endpoint: this.small.label(endpoint) }));
  }

  internalError(): void {
    this.internalErrors++;
  }

  close(): void {
    this.registry?.clear();
  }

  /** Per mirror: hits, misses, bytes from the remote, stale serves (counters) and cache size (gauge). */
  /**
   * Stored bytes per repository: the `topN` largest get their own series, the rest one "other"
   * series, so the count stays bounded however many repositories exist. Unlike the request
   * counters (first-come labels, see label-bound.ts) these are gauges, so a repository may move
   * in and out of the largest without inventing a rate.
   */
  private storageMetrics(read: (topN: number) => Promise<StorageStats>, topN: number): void {
    const registers = [this.registry!];
    // One read per scrape, shared by the gauges below.
    let cached: { at: number; value: Promise<StorageStats | null> } | null = null;
    const figures = () => {
      if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), value: read(topN).catch(() => null) };
      return cached.value;
    };
    const perRepository = (name: string, help: string, pick: (r: { bytes: number; tags: number }) => number) =>
      new prom.Gauge({
        name,
        help,
        labelNames: ['repository'],
        registers,
        async collect() {
          this.reset();
          const s = await figures();
          if (!s) return;
          for (const r of s.repositories) this.set({ repository: r.name }, pick(r));
          if (s.other.repositories > 0) this.set({ repository: OTHER }, pick(s.other));
        },
      });
    perRepository(
      `${PREFIX}repository_stored_bytes`,
      `Bytes a repository's manifests hold (manifests, configs, layers; a layer shared within the repository once), the ${topN} largest repositories, the rest as "other"`,
      (r) => r.bytes,
    );
    perRepository(`${PREFIX}repository_tags`, 'Tags per repository, for the same repositories', (r) => r.tags);
    const store = (name: string, help: string, pick: (s: { bytes: number; blobs: number }) => number) =>
      new prom.Gauge({
        name,
        help,
        registers,
        async collect() {
          this.reset();
          const s = await figures();
          if (s?.store) this.set(pick(s.store));
        },
      });
    store(
      `${PREFIX}store_bytes`,
      'Bytes the storage holds, every blob once however many repositories share it',
      (s) => s.bytes,
    );
    store(`${PREFIX}store_blobs`, 'Blobs (layers, configs, manifests) the storage holds', (s) => s.blobs);
  }

  private mirrorMetrics(read: () => MirrorStats[]): void {
    const counters: [string, string, keyof MirrorStats][] = [
      ['mirror_hits_total', 'Mirror requests answered from the cache', 'hits'],
      ['mirror_misses_total', 'Mirror requests that fetched from the remote', 'misses'],
      ['mirror_remote_bytes_total', 'Bytes a mirror received from its remote', 'bytesFromRemote'],
      ['mirror_stale_total', 'Cached tags a mirror served while its remote was down or rate-limiting', 'staleServes'],
    ];
    for (const [name, help, key] of counters)
      new prom.Counter({
        name: `${PREFIX}${name}`,
        help,
        labelNames: ['mirror', 'remote'],
        registers: [this.registry!],
        collect() {
          this.reset();
          for (const m of read()) this.inc({ mirror: m.prefix, remote: m.remote }, m[key] as number);
        },
      });
    new prom.Gauge({
      name: `${PREFIX}mirror_cache_bytes`,
      help: 'Bytes held by a mirror alone (blobs no pushed image shares), as last measured',
      labelNames: ['mirror', 'remote'],
      registers: [this.registry!],
      // Every worker of a group measures the same storage.
      aggregator: 'max',
      collect() {
        this.reset();
        for (const m of read()) this.set({ mirror: m.prefix, remote: m.remote }, m.cacheBytes);
      },
    });
  }

  private bump(cells: Cells<string>, key: string, labels: () => Record<string, string>): void {
    cells.get(key, labels).value++;
  }

  /** A prom-client Counter filled from cells at scrape time; cells mapped to "other" merge there. */
  private fromCells<K>(name: string, help: string, labelNames: string[], cells: Cells<K>): void {
    new prom.Counter({
      name,
      help,
      labelNames,
      registers: [this.registry!],
      collect() {
        this.reset();
        for (const c of cells.map.values()) this.inc(c.labels, c.value);
      },
    });
  }

  private fromArray(name: string, help: string, values: Float64Array): void {
    new prom.Counter({
      name,
      help,
      labelNames: ['operation'],
      registers: [this.registry!],
      collect() {
        this.reset();
        OPERATIONS.forEach((operation, i) => {
          if (values[i]) this.inc({ operation }, values[i]!);
        });
      },
    });
  }

  private fromNumber(name: string, help: string, read: () => number): void {
    new prom.Counter({
      name,
      help,
      registers: [this.registry!],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
}
