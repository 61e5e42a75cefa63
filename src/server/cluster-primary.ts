/**
 * The primary of a --workers group (nginx's master process). It owns the listening sockets
 * and shares them with the workers, which accept connections themselves, as nginx's workers
 * do; it runs no request code, and supervises: a worker that dies is replaced, with a growing delay if it keeps dying
 * young, while the others keep serving; the primary never dies with it. Signals keep their
 * meaning for the whole group: SIGHUP and SIGUSR1 are passed to every worker, SIGTERM/SIGINT
 * drain every worker and then end the primary.
 *
 * The primary keeps the identity it started with (like nginx's master keeps root), so it can
 * bind again for a replacement worker; the workers drop privileges after listening.
 *
 * State kept here for the group: the brute-force counters per client IP (so a client cannot
 * get N times the allowance by landing on different workers), the counts of workers that died
 * (so the group's totals never go backwards), and, without --token-key, the group's random
 * token key (given to each worker at fork).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Resolved } from '../config/resolve.js';
import { BruteForceGuard } from '../auth/brute-force.js';
import { ensureTokenKeyFile, randomKeyText } from '../auth/token-keys.js';
import type { GroupView, WorkerSummary } from '../stats/index.js';
import { GroupLedger, type MetricsJson } from './cluster-ledger.js';
import { GROUP_LEADER_ENV, GROUP_TOKEN_KEY_ENV, isOurs, type ToPrimary, type ToWorker } from './cluster-messages.js';
import { loadTls } from './build.js';

/** A worker that dies within this long of starting counts as crashing; the next start waits longer. */
const YOUNG_MS = 10_000;
const MAX_BACKOFF_MS = 10_000;
/** How long a stats collection waits for a worker that does not answer (it may be dying). */
const COLLECT_TIMEOUT_MS = 1_000;

export interface Group {
  /** Resolves once every worker listens; rejects (with the exit code) if the first ones cannot start. */
  ready: Promise<void>;
  workers(): Worker[];
}

export function startPrimary(r: Resolved, logger: Logger): Group {
  const c = r.config;
  // Workers accept from the shared socket themselves (SCHED_NONE) rather than node:cluster's
  // default round robin, where the primary accepts each connection and passes it on. Measured:
  // with round robin, a connection handed over as its worker dies is never answered (the
  // client hangs until its own timeout), while the kernel's accept queue belongs to the socket,
  // so a dead worker's share goes to the others. The primary also stays out of the data path.
  // NODE_CLUSTER_SCHED_POLICY=rr still selects round robin (for comparison in bench/workers.js).
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const env: Record<string, string> = {};
  const brute = new BruteForceGuard({
    maxFailures: c.bruteForceMax,
    windowMs: c.bruteForceWindow,
    blockMs: c.bruteForceBlock,
  });
  const ledger = new GroupLedger();
  const started = new Map<number, number>();
  let everListened = false;
  let stopping = false;
  let crashes = 0;
  let nextCollect = 0;
  type Collected = { summary: WorkerSummary; metrics?: MetricsJson };
  const collects = new Map<number, { got: Collected[]; waiting: Set<number>; done: () => void }>();
  /** Workers that have exited: anything they still send is ignored, their counts are retired. */
  const gone = new Set<number>();

  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  // A SIGKILLed worker still looks connected until the primary reads the end of its channel;
  // a message written in between fails with EPIPE. Without a callback node:cluster raises that
  // as an 'error' event nobody handles, and the primary (and with it every worker) dies. The
  // worker's 'exit' follows and does the bookkeeping, so the failed message is simply dropped.
  const dropped = (): void => {};
  const tell = (w: Worker, m: ToWorker): void => {
    if (w.isConnected()) w.send(m, dropped);
  };

  let leader: number | undefined;
  function fork(): void {
    // The first worker leads; when the leader dies, its replacement takes over.
    const lead = leader === undefined;
    const w = cluster.fork({ ...env, [GROUP_LEADER_ENV]: lead ? '1' : '' });
    if (lead) leader = w.id;
    started.set(w.id, Date.now());
  }

  /** Every live worker's summary (and metrics if asked); a worker that does not answer in time is left out. */
  function collect(metrics: boolean): Promise<Collected[]> {
    const id = nextCollect++;
    const targets = live().filter((w) => w.isConnected());
    return new Promise((resolve) => {
      const entry = {
        got: [] as Collected[],
        waiting: new Set(targets.map((w) => w.id)),
        done: () => {
          clearTimeout(timer);
          collects.delete(id);
          // A worker that answered and then died is counted in the retired totals now.
          resolve(entry.got.filter((c) => !gone.has(c.summary.id)).sort((a, b) => a.summary.id - b.summary.id));
        },
      };
      const timer = setTimeout(entry.done, COLLECT_TIMEOUT_MS);
      collects.set(id, entry);
      if (targets.length === 0) return entry.done();
      for (const w of targets) tell(w, { type: 'portcullis:collect', id, metrics });
    });
  }

  async function view(): Promise<GroupView> {
    const got = await collect(false);
    return { workers: got.map((c) => c.summary), retired: { ...ledger.retired } };
  }

  async function exposition(): Promise<string> {
    const got = await collect(true);
    return ledger.exposition(got.flatMap((c) => (c.metrics ? [c.metrics] : [])));
  }

  function onMessage(w: Worker, m: unknown): void {
    if (!isOurs(m) || gone.has(w.id)) return;
    const msg = m as ToPrimary;
    if (msg.type === 'portcullis:auth-failure') {
      const blockMs = brute.recordFailure(msg.ip);
      if (blockMs > 0) {
        logger.warn(
          { clientIp: msg.ip, blockMs },
          'too many wrong credentials across the workers; blocking this address',
        );
        for (const other of live()) tell(other, { type: 'portcullis:block', ip: msg.ip, ms: blockMs });
      }
    } else if (msg.type === 'portcullis:collected') {
      ledger.counted(w.id, msg.summary.connections);
      if (msg.metrics) ledger.measured(w.id, msg.metrics);
      const entry = collects.get(msg.id);
      if (!entry) return;
      entry.got.push({ summary: msg.summary, metrics: msg.metrics });
      entry.waiting.delete(w.id);
      if (entry.waiting.size === 0) entry.done();
    } else if (msg.type === 'portcullis:counters') {
      ledger.counted(w.id, msg.summary.connections);
    } else if (msg.type === 'portcullis:ask') {
      const answer: Promise<unknown> = msg.what === 'workers' ? view() : exposition();
      answer.then(
        (value) => tell(w, { type: 'portcullis:answer', id: msg.id, value }),
        (err: Error) => tell(w, { type: 'portcullis:answer', id: msg.id, error: err.message }),
      );
    }
  }

  const ready = (async () => {
    // Once, before any worker starts: workers then read the same certificate and key file
    // instead of racing to generate them.
    if (c.tlsSelfSigned) await loadTls(r);
    if (c.tokenKey) ensureTokenKeyFile(c.tokenKey);
    else if (c.htpasswd) env[GROUP_TOKEN_KEY_ENV] = randomKeyText();
  })().then(
    () =>
      new Promise<void>((resolve, reject) => {
        const listening = new Map<number, number>();
        cluster.on('message', onMessage);
        cluster.on('listening', (w) => {
          listening.set(w.id, (listening.get(w.id) ?? 0) + 1);
          if (!everListened && live().every((x) => (listening.get(x.id) ?? 0) >= r.listen.length)) {
            everListened = true;
            resolve();
          }
        });
        cluster.on('exit', (w, code, signal) => {
          const age = Date.now() - (started.get(w.id) ?? 0);
          started.delete(w.id);
          gone.add(w.id);
          ledger.retire(w.id);
          if (w.id === leader) leader = undefined;
          for (const entry of collects.values()) {
            entry.waiting.delete(w.id);
            if (entry.waiting.size === 0) entry.done();
          }
          if (stopping) {
            if (live().length === 0) {
              logger.info('every worker has stopped');
              process.exit(0);
            }
            return;
          }
          if (!everListened) {
            // A worker that cannot start (a bad flag, a port in use) would fail the same way
            // again: end the group with its exit code instead of restarting it forever.
            stopping = true;
            for (const x of live()) x.process.kill('SIGTERM');
            reject(
              Object.assign(new Error(`a worker could not start (exit ${code ?? signal})`), { exitCode: code ?? 1 }),
            );
            return;
          }
          crashes = age < YOUNG_MS ? crashes + 1 : 0;
          const delay = crashes === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (crashes - 1));
          logger.error(
            { worker: w.id, pid: w.process.pid, code, signal, restartInMs: delay },
            'worker died; starting a replacement',
          );
          setTimeout(() => {
            if (!stopping) fork();
          }, delay);
        });
        for (let i = 0; i < r.workers; i++) fork();
      }),
  );

  const pass = (sig: NodeJS.Signals) => () => {
    logger.info(`${sig}: passing it to ${live().length} workers`);
    for (const w of live()) w.process.kill(sig);
  };
  process.on('SIGHUP', pass('SIGHUP'));
  process.on('SIGUSR1', pass('SIGUSR1'));
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      logger.info(`${sig}: every worker finishes its in-flight requests (up to ${c.shutdownGrace / 1000}s)`);
      if (live().length === 0) process.exit(0);
      // A worker that got the signal from the terminal too just sees it twice.
      for (const w of live()) w.process.kill('SIGTERM');
    });
  }
  return { ready, workers: live };
}
