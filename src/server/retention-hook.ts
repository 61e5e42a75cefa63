/** Retention rules applied on a schedule: embedded, writable storage with rules configured. */
import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.js';
import { embeddedStorageOptions } from '../backends/embedded-options.js';
import type { Resolved } from '../config/resolve.js';
import { retentionOption } from '../retention/policy.js';

/**
 * The schedule and the retention run (with the registry code they drive) load only when rules are
 * configured: a server without them never runs that code, and a module loaded at start stays resident.
 */
export async function startRetention(
  r: Resolved,
  backend: Backend,
  logger: Logger,
  notifier: { notify(payload: object): void } | undefined,
): Promise<{ stop(): Promise<void> } | undefined> {
  const c = r.config;
  const policy = retentionOption(c.retention);
  if (policy.rules.length === 0 || c.retentionInterval <= 0) return undefined;
  if (backend.kind !== 'embedded' || c.readOnly) {
    logger.warn('retention rules need the embedded registry on writable storage; ignored');
    return undefined;
  }
  const storage = embeddedStorageOptions(c);
  const { startRetentionSchedule } = await import('../retention/schedule.js');
  return startRetentionSchedule({
    storage: storage.storage,
    s3: storage.s3,
    policy,
    intervalMs: c.retentionInterval,
    gracePeriodMs: c.retentionGracePeriod,
    logger,
    usage: backend.usage ? (repo) => backend.usage!(repo) : undefined,
    notify: notifier ? (p) => notifier.notify(p) : undefined,
  });
}
