/**
 * How every docker end-to-end file begins: one private dockerd for the whole file (it takes a
 * second or two to start, so the file's tests share it), stopped when the file ends, and a
 * scratch directory beside it. When dockerd, or something else the file needs, cannot run on
 * this machine the whole file is skipped with the reason instead of failing.
 */
import type { Test } from 'tap';
import { startDockerd, type Dockerd } from './dockerd.js';
import { scratchDir } from './scoped.js';

/**
 * Start the file's dockerd on the root `t`; undefined (and the file planned as skipped) when
 * `missing` names something else absent or the daemon cannot start.
 */
export async function dockerdForFile(
  t: Test,
  opts: { missing?: string | null } = {},
): Promise<{ dk: Dockerd; work: string } | undefined> {
  const started = opts.missing ? { ok: false as const, reason: opts.missing } : await startDockerd();
  if (!started.ok) {
    t.plan(0, `cannot run here: ${started.reason}`);
    return undefined;
  }
  const dk = started.dockerd;
  t.teardown(() => dk.stop());
  return { dk, work: await scratchDir(t, 'portcullis-docker-') };
}
