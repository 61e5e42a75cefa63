/**
 * --workers 2 with --user/--group, as root starts it: the primary keeps root (like nginx's
 * master, so it can bind again for a replacement worker) and every worker, a replacement for
 * a killed one included, runs as the unprivileged user and still serves and stores.
 */
import t from 'tap';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  execFileP,
  fetchInsecure,
  freePort,
  removeDir,
  startPortcullis,
  tempDir,
  waitForHttp,
} from '../helpers/processes.js';

interface Status {
  group: { workers: { id: number; pid: number }[] };
}

const ids = async (pid: number) => {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  return { uid: Number(/^Uid:\s+\d+\s+(\d+)/m.exec(s)![1]), gid: Number(/^Gid:\s+\d+\s+(\d+)/m.exec(s)![1]) };
};

t.test(
  'privilege drop with two workers: every worker runs as the user, a replacement too',
  { skip: process.getuid?.() === 0 ? false : 'needs root to change user' },
  async (t) => {
    const dir = await tempDir('workers-user-');
    t.teardown(() => removeDir(dir));
    // The unprivileged workers must be able to write the storage.
    await chmod(dir, 0o777);
    const nobody = Number((await execFileP('id', ['-u', 'nobody'])).stdout.trim());
    const nogroup = Number((await execFileP('getent', ['group', 'nogroup'])).stdout.split(':')[2]);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gw = await startPortcullis([
      '--workers',
      '2',
      '--listen',
      `127.0.0.1:${port}`,
      '--storage',
      join(dir, 'data'),
      '--user',
      'nobody',
      '--group',
      'nogroup',
    ]);
    t.teardown(() => gw.stop());
    await waitForHttp(`${base}/_ping`, 90_000, gw);
    const workers = async () => (JSON.parse((await fetchInsecure(`${base}/_status`)).body) as Status).group.workers;
    const until = async (what: string, check: () => Promise<boolean>) => {
      for (const end = Date.now() + 60_000; !(await check().catch(() => false)); ) {
        // What the group logged (worker deaths, restarts, errors) says why, if it ever happens.
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log: ${gw.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await until('two workers', async () => (await workers()).length === 2);

    t.equal((await ids(gw.pid)).uid, 0, 'the primary keeps root');
    const first = await workers();
    for (const w of first)
      t.same(await ids(w.pid), { uid: nobody, gid: nogroup }, `worker ${w.id} runs as nobody:nogroup`);

    // Each worker stores: blob uploads land on both (connections alternate between them).
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const body = `blob ${i}`;
      const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(body).digest('hex')}`;
      const r = await fetchInsecure(`${base}/v2/u/app/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
        body,
      });
      statuses.push(r.status);
    }
    t.same(statuses, [201, 201, 201, 201], 'uploads written by the unprivileged workers');

    const victim = first[0]!;
    process.kill(victim.pid, 'SIGKILL');
    await until('a replacement worker', async () => {
      const now = await workers();
      return now.length === 2 && !now.some((w) => w.pid === victim.pid);
    });
    const replacement = (await workers()).find((w) => !first.some((f) => f.pid === w.pid))!;
    t.same(await ids(replacement.pid), { uid: nobody, gid: nogroup }, 'the replacement worker runs as nobody too');
    t.equal((await fetchInsecure(`${base}/v2/`)).status, 200, 'the group still serves');
  },
);
