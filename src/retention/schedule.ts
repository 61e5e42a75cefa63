/**
 * The server applies the retention rules every `intervalMs` (then gc), in the background
 * while serving; runs never overlap, and a failed run is logged and retried next time.
 * Every deleted tag is a log line and, with --webhook, a registry:2 "delete" event.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { RepositoryUsage } from '../registry/usage/usage-recorder.js';
import type { S3Options } from '../registry/storage/s3-client.js';
import type { RetentionPolicy } from './policy.js';
import type { PlannedTag } from './plan.js';
import { runRetention } from './run.js';

export interface RetentionScheduleOptions {
  storage: string;
  s3?: S3Options;
  policy: RetentionPolicy;
  intervalMs: number;
  gracePeriodMs: number;
  logger: Logger;
  usage?: (repository: string) => Promise<RepositoryUsage>;
  /** Deliver a webhook payload (registry:2's envelope). */
  notify?: (payload: object) => void;
}

const INSTANCE = randomUUID();

/** A registry:2 notification for a tag retention deleted (actor "retention"). */
export function deletionEvent(t: PlannedTag, at = new Date()): object {
  return {
    id: randomUUID(),
    timestamp: at.toISOString(),
    action: 'delete',
    target: { repository: t.repository, tag: t.tag, digest: t.digest },
    request: { id: '', addr: '', host: hostname(), method: 'DELETE', useragent: 'portcullis-retention' },
    actor: { name: 'retention' },
    source: { addr: hostname(), instanceID: INSTANCE },
  };
}

export function startRetentionSchedule(opts: RetentionScheduleOptions): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const once = async () => {
    const started = Date.now();
    try {
      const r = await runRetention({
        storage: opts.storage,
        s3: opts.s3,
        policy: opts.policy,
        dryRun: false,
        gracePeriodMs: opts.gracePeriodMs,
        logger: opts.logger,
        usage: opts.usage,
        onDeleted: (t) => opts.notify?.({ events: [deletionEvent(t)] }),
      });
      opts.logger.info(
        {
          tagsDeleted: r.deletedTags.length,
          tagsSkipped: r.skippedTags.length,
          blobsDeleted: r.gc?.blobsDeleted,
          bytesFreed: r.gc?.bytesFreed,
          ms: Date.now() - started,
        },
        'retention: run finished',
      );
    } catch (e) {
      opts.logger.error({ err: e }, 'retention: run failed; trying again at the next interval');
    }
  };
  const timer = setInterval(() => {
    running ??= once().finally(() => {
      running = null;
    });
  }, opts.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
