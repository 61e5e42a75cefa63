/**
 * --workers 2 with a monitor scraping the group: every /_status and /metrics read makes the
 * primary ask each worker for its figures. A worker SIGKILLed between two scrapes can still
 * look connected to the primary for a moment, and a message written to it then fails (EPIPE).
 * That must cost the scrape one worker's figures, never the primary: if it dies, every
 * worker goes with it. Each round kills a worker while scrapes run back to back and checks
 * that the same primary replaces it and still answers.
 */
import t from 'tap';
import { join } from 'node:path';
import { fetchInsecure, freePort, removeDir, startPortcullis, tempDir, waitForHttp } from '../helpers/processes.js';

interface Status {
  group: { workers: { id: number; pid: number }[] };
}

const ROUNDS = 6;
const SCRAPERS = 6;

t.test('a worker killed while the group is scraped is replaced; the primary lives on', async (t) => {
  const dir = await tempDir('workers-scrape-');
  t.teardown(() => removeDir(dir));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(['--workers', '2', '--listen', `127.0.0.1:${port}`, '--storage', join(dir, 'data')]);
  t.teardown(() => gw.stop());
  await waitForHttp(`${base}/_ping`, 90_000, gw);
  const workers = async () => (JSON.parse((await fetchInsecure(`${base}/_status`)).body) as Status).group.workers;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const until = async (what: string, check: () => Promise<boolean>) => {
    for (const end = Date.now() + 60_000; !(await check().catch(() => false)); ) {
      if (!alive(gw.pid)) throw new Error(`the primary died waiting for ${what}; log: ${gw.output().slice(-3000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log: ${gw.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await until('two workers', async () => (await workers()).length === 2);

  let scraping = true;
  const scrape = async () => {
    for (let i = 0; scraping; i++)
      await fetchInsecure(`${base}/${i % 2 ? 'metrics' : '_status'}`).catch(() => undefined);
  };
  const scrapers = Array.from({ length: SCRAPERS }, scrape);
  t.teardown(() => {
    scraping = false;
  });

  for (let round = 1; round <= ROUNDS; round++) {
    const before = await workers();
    const victim = before[round % before.length]!;
    process.kill(victim.pid, 'SIGKILL');
    await until(`a replacement in round ${round}`, async () => {
      const now = await workers();
      return now.length === 2 && !now.some((w) => w.pid === victim.pid);
    });
  }
  scraping = false;
  await Promise.all(scrapers);
  t.ok(alive(gw.pid), `the primary outlived ${ROUNDS} worker deaths under scraping`);
  t.equal((await workers()).length, 2, 'two workers serve');
  t.equal((await fetchInsecure(`${base}/v2/`)).status, 200, 'the group still answers the API');
});
