/**
 * `portcullis serve` as a process: build the gateway (build.ts), listen on every address, drop
 * privileges, and handle signals like nginx does:
 *   SIGHUP  reload certificates, htpasswd and access rules (a failed reload keeps the old state)
 *   SIGUSR1 reopen the access log (logrotate)
 *   SIGTERM stop accepting, let in-flight transfers finish for --shutdown-grace, exit 0
 */
import type { Logger } from 'pino';
import type { Resolved } from '../config/resolve.js';
import { build } from './build.js';
import { createRedirectListener, listen, type Listener } from './listeners.js';
import { dropPrivileges, handOverStorage } from './privileges.js';
import type { WorkerGroup } from './cluster-worker.js';

export interface Running {
  listeners: Listener[];
  urls: string[];
  stop(): Promise<void>;
}

export async function run(r: Resolved, logger: Logger, group?: WorkerGroup): Promise<Running> {
  const c = r.config;
  const gateway = await build(r, logger, group);
  const urls: string[] = [];
  const extra: Listener[] = [];
  try {
    for (const addr of r.listen) urls.push((await gateway.listen(addr)).url);
    if (r.redirectHttp) {
      const target = gateway.listeners[0]?.address() as { port: number };
      const redirect = createRedirectListener(target.port, c.headerTimeout, gateway.linger);
      await listen(redirect, r.redirectHttp);
      extra.push(redirect);
    }
    if (!c.storage.startsWith('s3://') && handOverStorage(c.storage, c.user, c.group))
      logger.info({ storage: c.storage }, 'storage directory created at start handed to --user/--group');
    const dropped = dropPrivileges(c.user, c.group);
    if (dropped) logger.info({ identity: dropped }, 'dropped privileges');
  } catch (e) {
    for (const s of extra) s.close();
    await gateway.close();
    throw e;
  }

  let stopping: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopping ??= (async () => {
      for (const s of extra) s.close();
      await gateway.close(c.shutdownGrace);
    })();
    return stopping;
  }

  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading');
    void gateway.reload();
  });
  process.on('SIGUSR1', () => {
    gateway.accessLog.reopen();
    logger.info('SIGUSR1: reopened the access log');
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      logger.info(`${sig}: finishing in-flight requests (up to ${c.shutdownGrace / 1000}s)`);
      void stop().then(() => process.exit(0));
    });
  }
  return { listeners: [...gateway.listeners, ...extra], urls, stop };
}
