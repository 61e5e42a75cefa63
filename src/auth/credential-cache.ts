/**
 * Cache of credentials that already verified, so a 50-layer push (150+ requests, each with
 * the same Basic header) costs one bcrypt instead of 150 (docs/pitfalls.md: "htpasswd formats").
 *
 * Keys are HMAC-SHA256(user ":" password) under a key drawn at start-up: the password is
 * never stored, and a dump of the process cannot be used to test guesses offline without
 * the key. Concurrent first requests with the same credentials share one verification.
 * Only successes are cached; wrong passwords pay the full bcrypt every time.
 */
import { createHmac, randomBytes } from 'node:crypto';

export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly verified = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private generation_ = 0;

  constructor(private readonly maxEntries = 1024) {}

  /**
   * Return whether the credentials are valid, calling `verify` at most once per distinct
   * (user, password) until clear().
   */
  async check(user: string, password: string, verify: () => Promise<boolean>): Promise<boolean> {
    const k = createHmac('sha256', this.key).update(user).update(':').update(password).digest('base64');
    if (this.verified.get(k) === user) return true;
    const pending = this.inflight.get(k);
    if (pending) return pending;
    const gen = this.generation_;
    const p = verify()
      .then((ok) => {
        // A clear() while bcrypt ran means the file changed under us: do not cache a result
        // computed against the old hashes.
        if (ok && gen === this.generation_) this.remember(k, user);
        return ok;
      })
      .finally(() => {
        if (this.inflight.get(k) === p) this.inflight.delete(k);
      });
    this.inflight.set(k, p);
    return p;
  }

  clear(): void {
    this.generation_++;
    this.verified.clear();
    this.inflight.clear();
  }

  /** Changes with every clear(): what was verified under an older generation no longer counts. */
  get generation(): number {
    return this.generation_;
  }

  get size(): number {
    return this.verified.size;
  }

  private remember(k: string, user: string): void {
    if (this.verified.size >= this.maxEntries) {
      // Map iteration order is insertion order: drop the oldest entry.
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(k, user);
  }
}
