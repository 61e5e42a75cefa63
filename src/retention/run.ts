/**
 * One retention run: plan, delete the planned tags (each checked again just before: a tag
 * pushed again since the plan stays), then gc with its grace period, so a push in flight —
 * whose blobs and manifests are younger than the grace period — is never broken.
 */
import type { Logger } from 'pino';
import { collectGarbage, type GcResult } from '../registry/gc.js';
import { RepositoryStore } from '../registry/repository.js';
import { openStorage } from '../registry/storage/open.js';
import type { S3Options } from '../registry/storage/s3-client.js';
import { UsageRecorder, type RepositoryUsage } from '../registry/usage/usage-recorder.js';
import { planRetention, type PlannedTag, type RetentionPlan } from './plan.js';
import type { RetentionPolicy } from './policy.js';

export interface RetentionRunOptions {
  storage: string;
  s3?: S3Options;
  policy: RetentionPolicy;
  dryRun: boolean;
  gracePeriodMs: number;
  now?: () => number;
  logger?: Logger;
  /** Pull times including what a running server has not flushed yet. */
  usage?: (repository: string) => Promise<RepositoryUsage>;
  /** Called after each tag deletion (events, webhooks). */
  onDeleted?: (tag: PlannedTag) => void;
}

export interface RetentionResult {
  plan: RetentionPlan;
  deletedTags: PlannedTag[];
  /** Planned tags left alone because they changed after the plan (pushed again). */
  skippedTags: PlannedTag[];
  gc?: GcResult;
}

export async function runRetention(opts: RetentionRunOptions): Promise<RetentionResult> {
  const now = opts.now ?? Date.now;
  const driver = await openStorage(opts.storage, opts.s3);
  try {
    const repos = new RepositoryStore(driver, now);
    const usage = opts.usage ?? ((repo: string) => new UsageRecorder(driver, { now }).read(repo));
    const plan = await planRetention({
      repos,
      policy: opts.policy,
      now: now(),
      gracePeriodMs: opts.gracePeriodMs,
      usage,
    });
    const result: RetentionResult = { plan, deletedTags: [], skippedTags: [] };
    if (opts.dryRun) return result;
    for (const t of plan.tags) {
      const current = await repos.resolveTag(t.repository, t.tag);
      const pushedAt = current?.pushedAt;
      if (!current || current.digest !== t.digest || (pushedAt !== undefined && pushedAt !== t.pushedAt)) {
        result.skippedTags.push(t);
        continue;
      }
      if (!(await repos.deleteTag(t.repository, t.tag))) continue;
      result.deletedTags.push(t);
      opts.logger?.info(
        { repository: t.repository, tag: t.tag, digest: t.digest, reason: t.reason },
        'retention: deleted tag',
      );
      opts.onDeleted?.(t);
    }
    result.gc = await collectGarbage({
      storage: opts.storage,
      s3: opts.s3,
      dryRun: false,
      gracePeriodMs: opts.gracePeriodMs,
      now,
      logger: opts.logger,
      untaggedGracePeriodMs: (repo) => opts.policy.ruleFor(repo)?.deleteUntaggedAfterMs,
    });
    return result;
  } finally {
    if ('destroy' in driver) driver.destroy();
  }
}

const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;

/** What a run did or would do, one line per tag, then a summary line. */
export function formatRetention(r: RetentionResult, dryRun: boolean): string {
  const lines: string[] = [];
  const tags = dryRun ? r.plan.tags : r.deletedTags;
  for (const t of tags) {
    lines.push(
      `${dryRun ? 'would delete' : 'deleted'} ${t.repository}:${t.tag} ${t.digest} pushed ${new Date(t.pushedAt).toISOString()}${
        t.pulledAt !== undefined ? ` pulled ${new Date(t.pulledAt).toISOString()}` : ''
      } (${t.reason})`,
    );
  }
  for (const m of r.plan.manifests)
    lines.push(`${dryRun ? 'would remove' : 'removes'} manifest ${m.repository}@${m.digest} (${m.reason})`);
  for (const t of r.skippedTags) lines.push(`kept ${t.repository}:${t.tag}: pushed again during the run`);
  const freed = r.gc ? r.gc.bytesFreed : r.plan.bytesFreed;
  lines.push(
    dryRun
      ? `retention (dry run): would delete ${r.plan.tags.length} tags; gc would then remove ${r.plan.manifests.length} manifests and free ${r.plan.bytesFreed} bytes (${mib(r.plan.bytesFreed)}) in ${r.plan.blobsFreed} blobs`
      : `retention: deleted ${r.deletedTags.length} tags; gc removed ${r.gc?.manifestsDeleted ?? 0} manifests and ${r.gc?.blobsDeleted ?? 0} blobs, freeing ${freed} bytes (${mib(freed)})`,
  );
  return `${lines.join('\n')}\n`;
}
