/**
 * How the skopeo-on-a-bucket end-to-end files begin: one OpenStack Swift (s3api) for the whole
 * file (its start takes tens of seconds, so the file's tests share it), stopped when the file
 * ends, a scratch directory and a fresh bucket. Without Swift or skopeo on this machine the
 * whole file is skipped with the reason instead of failing.
 */
import type { Test } from 'tap';
import { missingCommand } from './processes.js';
import { scratchDir } from './scoped.js';
import { startSwift, swiftMissing, type Swift } from './swift.js';

/** Start the file's Swift on the root `t`; undefined (and the file planned as skipped) when it cannot run. */
export async function swiftForFile(
  t: Test,
  scratchPrefix: string,
): Promise<{ swift: Swift; work: string; bucket: string } | undefined> {
  const why = swiftMissing() ?? missingCommand('skopeo');
  if (why) {
    t.plan(0, why);
    return undefined;
  }
  const swift = await startSwift();
  t.teardown(() => swift.stop());
  const work = await scratchDir(t, scratchPrefix);
  return { swift, work, bucket: await swift.createBucket() };
}
