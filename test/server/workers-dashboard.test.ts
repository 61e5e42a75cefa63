/**
 * The live dashboard of a --workers 2 group in a real headless Chromium: whichever worker
 * serves the page, it shows the group's connections and a row per worker (the same pids
 * /_status lists), marks the worker serving it, and keeps showing both after a worker is
 * killed and replaced, with the replaced worker's counts kept in the totals.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { startPortcullis, freePort, tempDir, removeDir, fetchInsecure, waitForHttp } from '../helpers/processes.js';

interface Status {
  group: { workers: { id: number; pid: number }[]; connections: { accepted: number } };
}

t.test(
  'the dashboard shows the group and each worker, whichever worker serves it',
  { skip: existsSync(CHROMIUM) ? false : 'chromium not installed' },
  async (t) => {
    const work = await tempDir('workers-dashboard-');
    t.teardown(() => removeDir(work));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gw = await startPortcullis(['--workers', '2', '--listen', `127.0.0.1:${port}`, '--storage', join(work, 's')]);
    t.teardown(() => gw.stop());
    await waitForHttp(`${base}/_ping`, 90_000, gw);
    const status = async () => JSON.parse((await fetchInsecure(`${base}/_status`)).body) as Status;
    const until = async (what: string, check: () => Promise<boolean>) => {
      for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200)))
        // A connection handed to the worker as it is killed is reset: ask again.
        if (await check().catch(() => false)) return;
      throw new Error(`timed out waiting for ${what}`);
    };
    await until('both workers listening', async () => (await status()).group.workers.length === 2);
    const pids = async () =>
      (await status()).group.workers
        .map((w) => w.pid)
        .sort()
        .join(',');

    const browser: Browser = await launchChromium();
    t.teardown(() => browser.close());
    // Script errors only: the page whose worker is killed logs its lost event stream, as it should.
    const problems: string[] = [];
    // Each page in a context of its own: its own connections, so it can land on another worker.
    const open = async (): Promise<{ page: Page; servedBy: string }> => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('pageerror', (e) => problems.push(String(e)));
      await page.goto(`${base}/-/stats`);
      await page.waitForFunction(() => document.querySelectorAll('#workers tr').length === 2, null, {
        timeout: 30_000,
      });
      const servedBy = await page.locator('#workers tr.self').getAttribute('data-pid');
      return { page, servedBy: servedBy ?? '' };
    };
    const rows = (page: Page) =>
      page.$$eval('#workers tr', (trs) =>
        trs
          .map((tr) => (tr as HTMLElement).dataset.pid)
          .sort()
          .join(','),
      );

    // Workers accept from the shared socket themselves, so the kernel, not a rotation, decides
    // which one gets a new connection: one worker can win several in a row. Open pages until
    // both have served one (bounded), keeping one page per worker.
    const pages: { page: Page; servedBy: string }[] = [];
    for (let i = 0; i < 30 && new Set(pages.map((p) => p.servedBy)).size < 2; i++) {
      const opened = await open();
      if (pages.some((p) => p.servedBy === opened.servedBy)) await opened.page.context().close();
      else pages.push(opened);
    }
    const servers = new Set(pages.map((p) => p.servedBy));
    t.equal(servers.size, 2, `pages were served by both workers (${[...servers].join(', ')})`);
    const expected = await pids();
    for (const p of pages) {
      t.equal(await rows(p.page), expected, `the page served by ${p.servedBy} lists every worker of /_status`);
      t.ok(await p.page.locator('#workers-card').isVisible(), 'the workers card is shown');
    }
    // With no traffic, the pages' connection totals settle on the same group figure.
    const accepted = (page: Page) => page.locator('#conn-totals').textContent();
    await until('every page showing the same group totals', async () => {
      const texts = await Promise.all(pages.map((p) => accepted(p.page)));
      return new Set(texts).size === 1;
    });
    const shown = Number((await accepted(pages[0]!.page))?.split(' ')[0]?.replace(/,/g, ''));
    const group = (await status()).group.connections.accepted;
    t.ok(shown >= 2 && shown <= group, `the page shows the group's accepts (${shown}; /_status now ${group})`);

    // A worker killed: the pages list the replacement, and say one worker was replaced.
    const victim = Number(pages[0]!.servedBy);
    process.kill(victim, 'SIGKILL');
    await until('a replacement worker', async () => !(await pids()).split(',').includes(String(victim)));
    const survivor = pages.find((p) => Number(p.servedBy) !== victim)!;
    await survivor.page.waitForFunction(
      (gone) => {
        const listed = [...document.querySelectorAll('#workers tr')].map((tr) => (tr as HTMLElement).dataset.pid);
        return listed.length === 2 && !listed.includes(String(gone));
      },
      victim,
      { timeout: 30_000 },
    );
    // Compared until they agree: on a busy machine a worker can miss one collection's deadline.
    await t.resolves(
      until(
        'the page listing the same workers as /_status',
        async () => (await rows(survivor.page)) === (await pids()),
      ),
      'the page lists the replacement worker, as /_status does',
    );
    t.match(await survivor.page.locator('#workers-retired').textContent(), /^1 worker replaced so far/);
    const after = Number((await accepted(survivor.page))?.split(' ')[0]?.replace(/,/g, ''));
    t.ok(after >= shown, `the group's accepts did not go backwards (${shown} → ${after})`);
    t.same(problems, [], 'no script errors');
  },
);
