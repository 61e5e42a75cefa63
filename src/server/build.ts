/**
 * The composition root: `build(config)` makes every component from the resolved configuration
 * and wires them into one gateway; `listen()` opens a listener on it; `close()` drains and
 * takes everything down in the reverse order it was made. Tests build the same gateway the
 * command line runs. run.ts adds what only a process has: signals and dropping privileges.
 *
 * Lifecycle (Caddy's provision / validate / cleanup): each component is registered for cleanup
 * as soon as it exists, so a start-up that fails half-way (an unreadable htpasswd after the
 * storage was opened, a port in use) closes what was already made before the error goes on.
 */
import { hostname } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { createAuth, type AuthService } from '../auth/index.js';
import type { Backend } from '../backends/backend.js';
import { embeddedStorageOptions } from '../backends/embedded-options.js';
import type { ListenAddress } from '../config/addresses.js';
import type { Resolved } from '../config/resolve.js';
import { createAccessLog, type AccessLog } from '../gateway/access-log.js';
import { createCorsPolicy } from '../gateway/cors.js';
import { createGateway, type Gateway } from '../gateway/pipeline.js';
import { createNotifier } from '../gateway/webhooks.js';
import { createUserAgentPolicy } from '../policy/user-agent.js';
import { createStats, type Stats } from '../stats/index.js';
import { OptionError } from '../startup-error.js';
import { VERSION } from '../version.js';
import { createListener, listen as listenOn, type Listener } from './listeners.js';
import { LINGER_MAX_BYTES } from './lingering-close.js';
import { readTlsFiles, secureContextOptions, selfSigned, type TlsMaterial } from './tls.js';
import { startRetention } from './retention-hook.js';
import type { WorkerGroup } from './cluster-worker.js';

export interface BuiltGateway {
  /** The request handler: the pipeline of passes in front of the backend. */
  handler: Gateway;
  backend: Backend;
  auth?: AuthService;
  stats: Stats;
  accessLog: AccessLog;
  /** Lingering-close limits of this gateway's listeners (also for a redirect listener run() opens). */
  linger: { timeMs: number; idleMs: number; maxBytes: number };
  /** The certificate in use, when serving TLS. */
  readonly tls?: TlsMaterial;
  /** Open a listener on `addr` serving this gateway (TLS when configured); its URL is returned. */
  listen(addr: ListenAddress): Promise<{ server: Listener; url: string }>;
  readonly listeners: readonly Listener[];
  /** Re-read the certificate files and the htpasswd and access files (a failed reload keeps the old state). */
  reload(): Promise<void>;
  /**
   * Stop accepting, answer new requests on open connections with 503, let transfers finish for
   * `graceMs`, then close every component. Safe to call more than once, and after a partial start.
   */
  close(graceMs?: number): Promise<void>;
}

/** Components to clean up, newest first. */
class Cleanup {
  private readonly steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.steps.unshift(step);
  }
  async run(logger: Logger): Promise<void> {
    for (const step of this.steps.splice(0)) {
      try {
        await step();
      } catch (err) {
        logger.warn({ err }, 'error while closing a component');
      }
    }
  }
}

export async function loadTls(r: Resolved): Promise<TlsMaterial | undefined> {
  const c = r.config;
  if (c.tlsCert && c.tlsKey) return readTlsFiles(c.tlsCert, c.tlsKey);
  // Kept beside filesystem storage; with object storage, in ./portcullis-tls of the working directory.
  const dir = c.storage.startsWith('s3://') ? resolvePath('portcullis-tls') : join(resolvePath(c.storage), 'tls');
  if (c.tlsSelfSigned)
    return selfSigned(
      dir,
      r.listen.map((l) => l.host),
    );
  return undefined;
}

export async function build(r: Resolved, logger: Logger, group?: WorkerGroup): Promise<BuiltGateway> {
  const cleanup = new Cleanup();
  try {
    return await provision(r, logger, cleanup, group);
  } catch (e) {
    await cleanup.run(logger);
    throw e;
  }
}

async function provision(r: Resolved, logger: Logger, cleanup: Cleanup, group?: WorkerGroup): Promise<BuiltGateway> {
  const c = r.config;
  // Each backend is imported only when chosen: a proxying gateway never runs the registry core,
  // an embedded one never the upstream client, and every module loaded at start stays resident.
  const backend: Backend = r.upstreams.length
    ? (await import('../backends/upstream.js')).createUpstreamBackend({
        urls: r.upstreams,
        balance: c.upstreamBalance as 'round-robin' | 'least-conn',
        healthIntervalMs: c.healthInterval,
        idleTimeoutMs: c.idleTimeout,
        logger,
      })
    : await (await import('../backends/embedded.js')).createEmbeddedBackend({
        ...embeddedStorageOptions(c),
        deleteEnabled: c.delete && !c.readOnly,
        readOnly: c.readOnly,
        logger,
        mirror: {
          mirrors: r.mirrors,
          defaultPrefix: c.mirrorDefault,
          tagTtlMs: c.mirrorTagTtl,
          maxBytes: r.mirrorMaxBytes,
        },
      });
  cleanup.add(() => backend.close());
  const auth: AuthService | undefined = c.htpasswd
    ? await createAuth({
        htpasswdFile: c.htpasswd,
        allowPlain: c.htpasswdAllowPlain,
        realm: c.realm,
        anonymousRead: c.anonymousRead,
        scheme: r.authScheme,
        accessFile: c.access,
        tokenTtlMs: c.tokenTtl,
        tokenKeyFile: c.tokenKey,
        tokenKeyText: group?.tokenKeyText,
        onAuthFailure: group?.reportAuthFailure,
        service: r.publicUrl?.host ?? 'portcullis',
        bruteForce: { maxFailures: c.bruteForceMax, windowMs: c.bruteForceWindow, blockMs: c.bruteForceBlock },
        logger,
      })
    : undefined;
  if (auth) cleanup.add(() => auth.close());
  const stats = createStats({
    allow: c.statsAllow,
    stubStatusPath: c.statsPath,
    metricsPath: c.metricsPath,
    dashboardPath: c.dashboardPath,
    topN: 20,
    version: VERSION,
    health: () => backend.health(),
    mirrors: backend.mirrorCounters ? () => backend.mirrorCounters!() : undefined,
    storage: backend.storageUsage ? (topN) => backend.storageUsage!(topN) : undefined,
    logger,
    group: group?.stats,
  });
  cleanup.add(() => stats.close());
  group?.attach({ stats, auth });
  const accessLog = createAccessLog(c.accessLog, c.logFormat as 'json' | 'combined');
  cleanup.add(() => accessLog.flush());
  let tls = await loadTls(r);
  if (tls && c.tlsSelfSigned)
    logger.warn(
      { cert: tls.certPath, sha256: tls.fingerprint },
      'using a self-signed certificate; clients must trust it (docker: /etc/docker/certs.d/HOST:PORT/ca.crt)',
    );
  const notifier = createNotifier({
    endpoints: c.webhook,
    timeoutMs: c.webhookTimeout,
    queueSize: c.webhookQueue,
    maxAttempts: 5,
    logger,
    onDropped: (endpoint) => stats.webhookDropped(endpoint),
  });
  cleanup.add(() => notifier?.close());
  // In a --workers group only the leader runs the schedule, so it runs once per instance.
  const retention = group && !group.leader ? undefined : await startRetention(r, backend, logger, notifier);
  if (retention) cleanup.add(() => retention.stop());
  const errorNotifier = createNotifier(
    {
      endpoints: c.errorWebhook ? [c.errorWebhook] : [],
      timeoutMs: c.webhookTimeout,
      queueSize: 100,
      maxAttempts: 3,
      logger,
    },
    'application/json',
  );
  cleanup.add(() => errorNotifier?.close());
  let draining = false;
  const handler = createGateway({
    backend,
    auth,
    stats,
    accessLog,
    logger,
    userAgents: createUserAgentPolicy({ extra: c.blockUserAgent, defaultRule: c.defaultUaBlock }),
    cors: createCorsPolicy(c.corsOrigin, c.corsCredentials, c.corsMaxAge),
    trustedProxies: r.trustedProxies,
    publicUrl: r.publicUrl,
    hsts: c.hsts,
    draining: () => draining,
    notifier,
    onInternalError: (err, ctx) => {
      stats.internalError();
      errorNotifier?.notify({
        error: err.message,
        stack: err.stack,
        requestId: ctx.id,
        method: ctx.req.method,
        path: ctx.req.url,
        time: new Date().toISOString(),
        host: hostname(),
        version: VERSION,
      });
    },
  });

  const listeners: Listener[] = [];
  /** How long a client still sending a body may go on after an early answer, so it reads that answer. */
  const linger = { timeMs: c.lingeringTime, idleMs: c.lingeringTimeout, maxBytes: LINGER_MAX_BYTES };

  async function listen(addr: ListenAddress): Promise<{ server: Listener; url: string }> {
    const server = createListener(handler, {
      tls,
      tlsMinVersion: c.tlsMinVersion,
      headerTimeoutMs: c.headerTimeout,
      keepAliveTimeoutMs: c.keepAliveTimeout,
      idleTimeoutMs: c.idleTimeout,
      linger,
    });
    stats.attach(server);
    try {
      await listenOn(server, addr);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new OptionError('listen', why, `--listen ${addr.host}:${addr.port}: ${why}`);
    }
    listeners.push(server);
    const port = (server.address() as { port: number }).port;
    const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
    return { server, url: `${tls ? 'https' : 'http'}://${host}:${port}` };
  }

  async function reload(): Promise<void> {
    if (tls && (c.tlsCert || c.tlsSelfSigned)) {
      try {
        const next = c.tlsCert && c.tlsKey ? readTlsFiles(c.tlsCert, c.tlsKey) : tls;
        for (const s of listeners)
          (s as import('node:https').Server).setSecureContext(secureContextOptions(next, c.tlsMinVersion));
        tls = next;
        logger.info({ sha256: next.fingerprint }, 'reloaded TLS certificate');
      } catch (e) {
        logger.error({ error: (e as Error).message }, 'TLS reload failed; keeping the previous certificate');
      }
    }
    await auth?.reload();
  }

  let closing: Promise<void> | undefined;
  function close(graceMs = 0): Promise<void> {
    closing ??= (async () => {
      draining = true;
      const closed = Promise.all(listeners.map((s) => new Promise<void>((res) => s.close(() => res()))));
      for (const s of listeners) s.closeIdleConnections();
      const grace = new Promise<'grace'>((res) => setTimeout(() => res('grace'), graceMs).unref());
      if ((await Promise.race([closed, grace])) === 'grace') {
        if (graceMs > 0) logger.warn({ graceMs }, 'grace period over; closing remaining connections');
        for (const s of listeners) s.closeAllConnections();
        await closed;
      }
      await cleanup.run(logger);
    })();
    return closing;
  }

  return {
    handler,
    linger,
    backend,
    auth,
    stats,
    accessLog,
    get tls() {
      return tls;
    },
    listen,
    listeners,
    reload,
    close,
  };
}
