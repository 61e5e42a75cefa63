/**
 * A Prometheus histogram whose hot path is one bucket search and three number updates.
 *
 * prom-client's Histogram hashes and validates the label object on every observe()
 * (~0.6 µs measured here, even through a `.labels()` child); record() runs once per
 * registry request and feeds several series, so series are pre-bound objects holding
 * plain arrays, and prom-client only sees them when the registry is scraped.
 *
 * The class has the shape prom-client's Registry expects of a metric (name, help, type,
 * aggregator, get(), reset()) and get() returns exactly what prom-client's own Histogram
 * returns, so Registry.metrics(), getMetricsAsJSON() and AggregatorRegistry (cluster
 * aggregation, bucket-wise "sum") treat it like a native histogram.
 */

/** What prom-client's Registry reads from a metric's get() (its own types are not exported). */
export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}
export interface MetricSnapshot {
  name: string;
  help: string;
  type: 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  /** Non-cumulative per-bucket count; the +Inf bucket is `count`. */
  observe(value: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  /** The series for one label set; call once and keep it (the lookup builds a key). */
  child(labels: Record<string, string>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = new HistogramSeries({ ...labels }, this.buckets);
      this.series.set(key, s);
    }
    return s;
  }

  async get(): Promise<MetricSnapshot> {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          labels: { ...s.labels, le: this.buckets[i]! },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
