/**
 * Upstream members, like nginx's `upstream { server ...; }`: selection (round robin or
 * least connections), passive health (connect failures, 5xx) and active health checks
 * (GET /v2/ at an interval). A member marked down is skipped until a probe succeeds.
 */
import http from 'node:http';
import https from 'node:https';

export interface Member {
  url: URL;
  name: string;
  agent: http.Agent;
  healthy: boolean;
  /**
   * The member answered an anonymous GET /v2/ with 200: it has no auth of its own, so the
   * gateway (which did the auth) may answer version checks and serve cached immutable
   * responses itself without bypassing anything the registry would check.
   */
  open: boolean;
  failures: number;
  active: number;
  lastError?: string;
  /** When the member last answered anything (a proxied request or a health check), ms since epoch. */
  answeredAt: number;
  /** When a connection to the member was last closed from its side (it may have gone away). */
  hungUpAt: number;
}

const PASSIVE_FAILURES_TO_MARK_DOWN = 1;

/** How long an answer from a member counts as evidence that it is up. */
export const ANSWER_FRESH_MS = 1000;

export class UpstreamPool {
  readonly members: Member[];
  private next = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    urls: URL[],
    private readonly balance: 'round-robin' | 'least-conn',
    private readonly healthIntervalMs: number,
  ) {
    this.members = urls.map((url) => {
      const opts = {
        keepAlive: true,
        keepAliveMsecs: 1000,
        maxSockets: Infinity,
        maxFreeSockets: 256,
        scheduling: 'lifo' as const,
        // Idle pooled sockets are closed before registry:2's own idle timeout, so a reused socket is never one the upstream is closing (docs/pitfalls.md: "Keep-alive races").
        timeout: 30_000,
      };
      const agent =
        url.protocol === 'https:' ? new https.Agent({ ...opts, rejectUnauthorized: false }) : new http.Agent(opts);
      const member: Member = {
        url,
        name: url.host,
        agent,
        healthy: true,
        open: false,
        failures: 0,
        active: 0,
        answeredAt: 0,
        hungUpAt: 0,
      };
      noteHangUps(member);
      return member;
    });
  }

  start(): void {
    if (this.healthIntervalMs > 0) {
      for (const m of this.members) void this.probe(m);
      this.timer = setInterval(() => {
        for (const m of this.members) void this.probe(m);
      }, this.healthIntervalMs);
      this.timer.unref();
    }
  }

  /** Pick a member for a new request, skipping `exclude` and members marked down (unless all are). */
  pick(exclude?: Member): Member | undefined {
    const candidates = this.members.filter((m) => m !== exclude && m.healthy);
    const pool = candidates.length ? candidates : this.members.filter((m) => m !== exclude);
    if (pool.length === 0) return undefined;
    if (this.balance === 'least-conn') return pool.reduce((a, b) => (b.active < a.active ? b : a));
    this.next = (this.next + 1) % pool.length;
    return pool[this.next];
  }

  byName(name: string): Member | undefined {
    return this.members.find((m) => m.name === name);
  }

  markFailure(m: Member, why: string): void {
    m.failures++;
    m.lastError = why;
    if (m.failures >= PASSIVE_FAILURES_TO_MARK_DOWN) m.healthy = false;
  }

  /** Some member is healthy and has no auth of its own (see Member.open). */
  openAndHealthy(): boolean {
    return this.members.some((m) => m.healthy && m.open);
  }

  /**
   * Some open, healthy member has shown just now that it is up: it answered within
   * ANSWER_FRESH_MS (and has not hung up since), or a connection to it is open. "Healthy" alone
   * only means nothing has failed yet: a registry killed a moment ago is still healthy until a
   * request or a probe fails, and must not be vouched for.
   */
  openAndAlive(): boolean {
    const now = Date.now();
    return this.members.some(
      (m) =>
        m.healthy &&
        m.open &&
        ((now - m.answeredAt < ANSWER_FRESH_MS && m.answeredAt > m.hungUpAt) || hasOpenConnection(m.agent)),
    );
  }

  markSuccess(m: Member): void {
    m.healthy = true;
    m.answeredAt = Date.now();
  }

  /** Active check: any answer below 500 to GET /v2/ means the registry is up (401 included). */
  probe(m: Member): Promise<boolean> {
    const mod = m.url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const req = mod.request(
        new URL('/v2/', m.url),
        { method: 'GET', agent: m.agent, timeout: 5000, headers: { 'user-agent': 'portcullis-health-check' } },
        (res) => {
          res.resume();
          const ok = (res.statusCode ?? 500) < 500;
          m.open = res.statusCode === 200;
          if (ok) this.markSuccess(m);
          else this.markFailure(m, `health check answered ${res.statusCode}`);
          resolve(ok);
        },
      );
      req.on('timeout', () => req.destroy(new Error('health check timed out')));
      req.on('error', (e) => {
        this.markFailure(m, e.message);
        resolve(false);
      });
      req.end();
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const m of this.members) m.agent.destroy();
  }
}

/** Record when the member closes a connection from its side (every one does when it dies). */
function noteHangUps(m: Member): void {
  const create = m.agent.createConnection.bind(m.agent);
  m.agent.createConnection = ((...args: Parameters<typeof create>) => {
    const socket = create(...args);
    socket?.once('end', () => {
      m.hungUpAt = Date.now();
    });
    return socket;
  }) as typeof m.agent.createConnection;
}

/** A pooled or busy connection to the member that it has not closed. */
function hasOpenConnection(agent: http.Agent): boolean {
  for (const lists of [agent.freeSockets, agent.sockets]) {
    for (const sockets of Object.values(lists)) {
      for (const s of sockets ?? []) if (!s.destroyed && !s.readableEnded) return true;
    }
  }
  return false;
}
