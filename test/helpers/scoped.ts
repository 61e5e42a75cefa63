/**
 * What a tap test (or a whole test file, given the root `t`) starts for itself and gets rid of
 * in its teardown: a scratch directory, a portcullis on a free loopback port. The teardown is
 * registered before waiting for readiness, so a portcullis that never answers is still stopped.
 */
import type { Test } from 'tap';
import {
  fetchInsecure,
  freePort,
  removeDir,
  startPortcullis,
  tempDir,
  waitForHttp,
  type Running,
} from './processes.js';

/** A fresh temporary directory, removed when `t` ends. */
export async function scratchDir(t: Test, prefix?: string): Promise<string> {
  const dir = await tempDir(prefix);
  t.teardown(() => removeDir(dir));
  return dir;
}

export type ScopedPortcullis = Running & {
  port: number;
  /** 127.0.0.1:PORT, as an image reference starts. */
  host: string;
  /** http(s)://127.0.0.1:PORT */
  origin: string;
  /** Every flag it was started with (--listen included), to start it again the same way. */
  args: string[];
};

/**
 * The real portcullis binary on 127.0.0.1 and a free port with `flags` (plus --listen, and
 * --tls-self-signed with `tls`), stopped when `t` ends; resolves once /_ping answers. With
 * `workers` it runs that many workers and resolves once /_status lists them all (a worker
 * group takes longer to come up, so readiness gets 90 s instead of 20).
 */
export async function portcullisFor(
  t: Test,
  flags: string[],
  opts: { tls?: boolean; env?: NodeJS.ProcessEnv; workers?: number } = {},
): Promise<ScopedPortcullis> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const origin = `${opts.tls ? 'https' : 'http'}://${host}`;
  const args = [
    '--listen',
    host,
    ...(opts.tls ? ['--tls-self-signed'] : []),
    ...(opts.workers ? ['--workers', String(opts.workers)] : []),
    ...flags,
  ];
  const running = await startPortcullis(args, { env: opts.env });
  t.teardown(() => running.stop());
  await waitForHttp(`${origin}/_ping`, opts.workers ? 90_000 : 20_000, running);
  if (opts.workers) await untilWorkers(origin, opts.workers);
  return { ...running, port, host, origin, args };
}

/** Wait (up to a minute) until the group's /_status lists `count` workers. */
async function untilWorkers(origin: string, count: number): Promise<void> {
  const listed = async () =>
    (JSON.parse((await fetchInsecure(`${origin}/_status`)).body) as { group: { workers: unknown[] } }).group.workers
      .length;
  for (const end = Date.now() + 60_000; (await listed()) < count; ) {
    if (Date.now() > end) throw new Error(`${origin}: fewer than ${count} workers after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
