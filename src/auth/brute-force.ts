/**
 * Per-client-IP limit on wrong credentials: after `maxFailures` wrong passwords within
 * `windowMs`, credentialed attempts from that IP are refused with 429 for `blockMs`.
 * nginx `auth_basic` has nothing like it. Only wrong credentials count: every registry
 * client first sends a request without credentials and retries after the challenge, so a
 * missing header is normal traffic.
 */

export interface BruteForceOptions {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
}

interface Entry {
  failures: number[]; // timestamps within the window, oldest first
  blockedUntil: number;
}

export class BruteForceGuard {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly opts: BruteForceOptions,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = 100_000,
  ) {}

  /** Milliseconds the IP remains blocked, or 0. */
  blockedFor(ip: string): number {
    const e = this.entries.get(ip);
    if (!e) return 0;
    const left = e.blockedUntil - this.now();
    return Math.max(left, 0);
  }

  /** Record a wrong password. Returns the block duration when this failure starts one. */
  recordFailure(ip: string): number {
    if (this.opts.maxFailures <= 0) return 0;
    const t = this.now();
    let e = this.entries.get(ip);
    if (!e) {
      if (this.entries.size >= this.maxTracked) this.prune(t);
      e = { failures: [], blockedUntil: 0 };
      this.entries.set(ip, e);
    }
    e.failures.push(t);
    while (e.failures.length > 0 && e.failures[0]! <= t - this.opts.windowMs) e.failures.shift();
    if (e.failures.length >= this.opts.maxFailures) {
      e.failures = [];
      e.blockedUntil = t + this.opts.blockMs;
      return this.opts.blockMs;
    }
    return 0;
  }

  /** Block an IP that others counted (the other workers of a group): keeps the longer block. */
  block(ip: string, ms: number): void {
    const until = this.now() + ms;
    const e = this.entries.get(ip);
    if (e) e.blockedUntil = Math.max(e.blockedUntil, until);
    else {
      if (this.entries.size >= this.maxTracked) this.prune(this.now());
      this.entries.set(ip, { failures: [], blockedUntil: until });
    }
  }

  // There is deliberately no recordSuccess(): a correct password does not erase earlier
  // failures, otherwise an attacker who owns one account could interleave it to guess
  // another account's password at full speed.

  get tracked(): number {
    return this.entries.size;
  }

  private prune(t: number): void {
    for (const [ip, e] of this.entries) {
      const last = e.failures[e.failures.length - 1] ?? 0;
      if (e.blockedUntil <= t && last <= t - this.opts.windowMs) this.entries.delete(ip);
    }
    // Still full (a flood of distinct addresses): forget the oldest rather than grow.
    while (this.entries.size >= this.maxTracked) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
