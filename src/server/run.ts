/**
 * The composition root of `portcullis serve`: build every component from the resolved
 * config, listen, drop privileges, and handle signals like nginx does:
 *   SIGHUP  reload certificates, htpasswd and access rules (a failed reload keeps the old state)
 *   SIGUSR1 reopen the access log (logrotate)
 *   SIGTERM stop accepting, let in-flight transfers finish for --shutdown-grace, exit 0
 */
import { resolve as resolvePath, join } from 'node:path';
import type { Logger } from 'pino';
import type { Resolved } from '../config/resolve.js';
import { createAccessLog } from '../gateway/access-log.js';
import { createGateway } from '../gateway/pipeline.js';
import { createCorsPolicy } from '../gateway/cors.js';
import { createUpstreamBackend } from '../backends/upstream.js';
import { createEmbeddedBackend, embeddedStorageOptions } from '../backends/embedded.js';
import type { Backend } from '../backends/backend.js';
import { createAuth, type AuthService } from '../auth/index.js';
import { createUserAgentPolicy } from '../policy/user-agent.js';
import { createStats } from '../stats/index.js';
import { readTlsFiles, selfSigned, secureContextOptions, type TlsMaterial } from './tls.js';
import { createListener, createRedirectListener, listen, type Listener } from './listeners.js';
import { dropPrivileges } from './privileges.js';
import { LINGER_MAX_BYTES } from './lingering-close.js';
import { VERSION } from '../version.js';
import { createNotifier } from '../gateway/webhooks.js';
import { hostname } from 'node:os';
import { OptionError } from '../startup-error.js';

export interface Running {
  listeners: Listener[];
  urls: string[];
  stop(): Promise<void>;
}

async function loadTls(r: Resolved): Promise<TlsMaterial | undefined> {
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

export async function serve(r: Resolved, logger: Logger): Promise<Running> {
  const c = r.config;
  const backend: Backend = r.upstreams.length
    ? createUpstreamBackend({
        urls: r.upstreams,
        balance: c.upstreamBalance as 'round-robin' | 'least-conn',
        healthIntervalMs: c.healthInterval,
        idleTimeoutMs: c.idleTimeout,
        logger,
      })
    : await createEmbeddedBackend({
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
        service: r.publicUrl?.host ?? 'portcullis',
        bruteForce: { maxFailures: c.bruteForceMax, windowMs: c.bruteForceWindow, blockMs: c.bruteForceBlock },
        logger,
      })
    : undefined;
  const stats = createStats({
    allow: c.statsAllow,
    stubStatusPath: c.statsPath,
    metricsPath: c.metricsPath,
    dashboardPath: c.dashboardPath,
    topN: 20,
    version: VERSION,
    health: () => backend.health(),
    mirrors: backend.mirrorCounters ? () => backend.mirrorCounters!() : undefined,
    logger,
  });
  const accessLog = createAccessLog(c.accessLog, c.logFormat as 'json' | 'combined');
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
  let draining = false;
  const gateway = createGateway({
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

  const linger = { timeMs: c.lingeringTime, idleMs: c.lingeringTimeout, maxBytes: LINGER_MAX_BYTES };
  const listeners: Listener[] = [];
  const urls: string[] = [];
  for (const addr of r.listen) {
    const server = createListener(gateway, {
      tls,
      tlsMinVersion: c.tlsMinVersion,
      headerTimeoutMs: c.headerTimeout,
      keepAliveTimeoutMs: c.keepAliveTimeout,
      idleTimeoutMs: c.idleTimeout,
      linger,
    });
    stats.attach(server);
    try {
      await listen(server, addr);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new OptionError('listen', why, `--listen ${addr.host}:${addr.port}: ${why}`);
    }
    const port = (server.address() as { port: number }).port;
    listeners.push(server);
    urls.push(`${tls ? 'https' : 'http'}://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port}`);
  }
  const extra: Listener[] = [];
  if (r.redirectHttp) {
    const redirect = createRedirectListener((listeners[0].address() as { port: number }).port, c.headerTimeout, linger);
    await listen(redirect, r.redirectHttp);
    extra.push(redirect);
  }
  const dropped = dropPrivileges(c.user, c.group);
  if (dropped) logger.info({ identity: dropped }, 'dropped privileges');

  async function reload(): Promise<void> {
    if (tls && (c.tlsCert || c.tlsSelfSigned)) {
      try {
        const next = c.tlsCert ? readTlsFiles(c.tlsCert, c.tlsKey!) : tls;
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

  let stopping: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopping ??= (async () => {
      draining = true;
      const all = [...listeners, ...extra];
      const closed = Promise.all(all.map((s) => new Promise<void>((res) => s.close(() => res()))));
      for (const s of all) s.closeIdleConnections();
      const grace = new Promise<'grace'>((res) => setTimeout(() => res('grace'), c.shutdownGrace).unref());
      if ((await Promise.race([closed, grace])) === 'grace') {
        logger.warn({ graceMs: c.shutdownGrace }, 'grace period over; closing remaining connections');
        for (const s of all) s.closeAllConnections();
        await closed;
      }
      auth?.close();
      notifier?.close();
      errorNotifier?.close();
      stats.close();
      await backend.close();
      accessLog.flush();
    })();
    return stopping;
  }

  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading');
    void reload();
  });
  process.on('SIGUSR1', () => {
    accessLog.reopen();
    logger.info('SIGUSR1: reopened the access log');
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      logger.info(`${sig}: finishing in-flight requests (up to ${c.shutdownGrace / 1000}s)`);
      void stop().then(() => process.exit(0));
    });
  }
  return { listeners, urls, stop };
}
