/**
 * Bounded label values for Prometheus: the first `limit` distinct values seen get their
 * own series, every later one is reported as "other".
 *
 * First-come admission (rather than a moving top-N) because a counter series must never
 * change identity: if "team/app" moved from its own label to "other", both series would
 * jump and rate() would invent traffic. Operators who need more set a larger topN.
 */
export const OTHER = 'other';

export class LabelBound {
  private readonly admitted = new Set<string>();
  constructor(private readonly limit: number) {}

  label(value: string | undefined): string {
    if (!value) return OTHER;
    if (this.admitted.has(value)) return value;
    if (this.admitted.size >= this.limit) return OTHER;
    this.admitted.add(value);
    return value;
  }
}
