/**
 * `portcullis retention [--dry-run]` with the server's own flags and config file: apply the
 * retention rules once and run gc, or (--dry-run) print what would go and the bytes it frees.
 */
import type { Config } from '../config/load.js';
import { embeddedStorageOptions } from '../backends/embedded.js';
import { retentionOption, type RetentionPolicy } from '../retention/policy.js';
import { OptionError } from '../startup-error.js';
import { formatRetention, runRetention } from '../retention/run.js';

export async function retentionOnce(config: Config, dryRun: boolean, fail: (message: string) => never): Promise<void> {
  if (config.upstream.length) fail('--upstream: retention works on the embedded registry storage, not an upstream');
  let policy: RetentionPolicy;
  try {
    policy = retentionOption(config.retention);
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    fail(e.message);
  }
  if (policy.rules.length === 0) fail('--retention: no retention rules configured (see docs/retention.md)');
  const storage = embeddedStorageOptions(config);
  try {
    const result = await runRetention({
      storage: storage.storage,
      s3: storage.s3,
      policy,
      dryRun,
      gracePeriodMs: config.retentionGracePeriod,
    });
    process.stdout.write(formatRetention(result, dryRun));
  } catch (e) {
    process.stderr.write(`portcullis retention: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
