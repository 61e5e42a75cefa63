/**
 * The dashboard in a real headless Chromium (Debian's chromium + playwright-core): load
 * it, push an image through the gateway build() makes, and watch the numbers and the recent-push
 * row change without a reload. Screenshots go to the test's temp dir; with
 * PORTCULLIS_UPDATE_SCREENSHOT=1 the laptop one is also copied to docs/dashboard.png.
 */
import t from 'tap';
import { copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { ROOT, removeDir, tempDir } from '../helpers/processes.js';
import { get, rawConnect, sleep, startHarness, type Harness } from './fixtures/harness.js';
import { simulatePull, simulatePush } from './fixtures/traffic.js';

// biome-ignore lint/performance/useDomNodeTextContent: the page as rendered is what the user reads
const text = (page: Page, id: string) => page.locator(`#${id}`).innerText();

/** Background traffic so the charts have a shape: a mix of statuses, clients and sizes. */
function churn(h: Harness, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const clients = ['docker/27.1.0', 'containerd/1.7.12', 'podman/5.2.0', 'skopeo/1.15.1', 'buildkit/0.15'];
  const repos = ['team/app', 'team/api', 'lib/nginx', 'ml/trainer', 'infra/agent'];
  let i = 0;
  const one = async () => {
    i++;
    const repo = repos[i % repos.length]!;
    const ua = clients[i % clients.length]!;
    const path =
      i % 11 === 0
        ? `/v2/${repo}/manifests/nope?status=404`
        : i % 37 === 0
          ? `/v2/${repo}/blobs/sha256:ee?status=502`
          : i % 3 === 0
            ? `/v2/${repo}/blobs/sha256:aa?size=${50_000 + ((i * 7919) % 400_000)}`
            : `/v2/${repo}/manifests/latest?size=1200`;
    await get(h.base, path, { 'user-agent': ua }, i % 5 === 0 ? 'HEAD' : 'GET');
  };
  return (async () => {
    while (Date.now() < deadline) {
      await Promise.all([one(), one(), one()]);
      await sleep(40 + (Math.sin(Date.now() / 700) + 1) * 60);
    }
  })();
}

t.test(
  'the live dashboard shows connections, rates and a push as it happens',
  { skip: existsSync(CHROMIUM) ? false : 'chromium not installed' },
  async (t) => {
    const h = await startHarness({ users: ['alice', 'ci-runner'] });
    t.teardown(h.close);
    h.setHealth([
      { name: 'http://registry-a:5000', kind: 'upstream', healthy: true, failures: 0 },
      {
        name: 'http://registry-b:5000',
        kind: 'upstream',
        healthy: false,
        detail: 'connect ECONNREFUSED 10.0.0.7:5000',
        failures: 4,
      },
    ]);
    const dir = await tempDir('stats-dashboard-');
    t.teardown(() => removeDir(dir));
    const browser = await launchChromium();
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith(h.base)) foreign.push(r.url());
    });

    await get(h.base, '/v2/', { 'user-agent': 'docker/27.1.0' });
    await page.goto(`${h.base}/-/stats`);
    await page.waitForFunction(() => document.getElementById('live')?.classList.contains('on'));
    await page.waitForFunction(() => document.getElementById('total-requests')?.textContent === '1');
    t.equal(await page.locator('#recent tr[data-kind]').count(), 0, 'no pushes yet');
    t.equal(await text(page, 'total-pushes'), '0');
    t.notOk(await page.locator('#workers-card').isVisible(), 'one process: no workers card');

    // Traffic while the page is open: a long download holds a connection in writing.
    const long = await rawConnect(h.port);
    long.write(
      'GET /v2/team/app/blobs/sha256:aa?stream=60000&size=2000000 HTTP/1.1\r\nHost: x\r\nUser-Agent: docker/27.1.0\r\n\r\n',
    );
    long.resume();
    t.teardown(() => long.destroy());
    // Longer when refreshing the README screenshot, so the charts have a shape.
    const background = churn(h, process.env.PORTCULLIS_UPDATE_SCREENSHOT === '1' ? 25_000 : 2_500);
    await background;
    await simulatePull(h.base, 'lib/nginx', '1.27', {
      user: 'ci-runner',
      client: 'containerd/1.7.12',
      layerBytes: 1_800_000,
    });
    await simulatePush(h.base, 'team/app', 'v1.2.0', {
      user: 'alice',
      client: 'docker/27.1.0 go/go1.22',
      layerBytes: 3_400_000,
    });

    // Without a reload, the next ticks bring the push row and the new numbers.
    const row = page.locator('#recent tr[data-kind="push"][data-repository="team/app"][data-reference="v1.2.0"]');
    await row.waitFor({ timeout: 5_000 });
    const cells = await row.locator('td').allInnerTexts();
    t.equal(cells[0]?.toLowerCase(), 'push', 'kind badge');
    t.match(cells[1], /team\/app:v1\.2\.0/);
    t.equal(cells[2], 'alice');
    t.match(cells[3], /^docker 27\.1\.0/);
    t.equal(cells[4], '3.40 MB', 'size = the uploaded blob bytes');
    await page
      .locator('#recent tr[data-kind="pull"][data-repository="lib/nginx"][data-reference="1.27"]')
      .waitFor({ timeout: 5_000 });
    t.pass('the pull row too');
    await page.waitForFunction(() => document.getElementById('total-pushes')?.textContent === '1');
    const total = Number((await text(page, 'total-requests')).replace(/[^\d.]/g, ''));
    t.ok(total > 20, `requests counted live (${total})`);
    const writing = Number(await text(page, 'conn-writing'));
    t.ok(writing >= 2, `the long download and the event stream are writing (${writing})`);
    t.ok((await page.locator('#codes [data-code="404"]').count()) === 1, 'status-code breakdown shows the 404s');
    t.ok((await page.locator('#top-repos .bar[data-name="team/app"]').count()) === 1, 'top repositories');
    t.ok((await page.locator('#top-clients .bar[data-name="containerd"]').count()) === 1, 'top clients');
    t.equal(await page.locator('#health .svc[data-healthy="false"]').count(), 1, 'the unhealthy member is shown');
    const path = await page.locator('#chart-req path.ln').first().getAttribute('d');
    t.ok(path && path.split('L').length > 2, 'the requests chart has drawn a line');

    // Let the "new row" highlight fade before the picture for the README.
    if (process.env.PORTCULLIS_UPDATE_SCREENSHOT === '1') await sleep(2_800);
    const laptop = join(dir, 'dashboard-laptop.png');
    await page.screenshot({ path: laptop, fullPage: true });
    t.ok(existsSync(laptop));
    if (process.env.PORTCULLIS_UPDATE_SCREENSHOT === '1') await copyFile(laptop, join(ROOT, 'docs', 'dashboard.png'));

    // The same page on a phone: one column, nothing wider than the screen.
    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await phone.goto(`${h.base}/-/stats`);
    await phone.waitForFunction(() => document.getElementById('live')?.classList.contains('on'));
    await phone.locator('#recent tr[data-kind="push"]').waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    t.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await phone.screenshot({ path: join(dir, 'dashboard-phone.png') });
    if (process.env.PORTCULLIS_UPDATE_SCREENSHOT === '1')
      await copyFile(join(dir, 'dashboard-phone.png'), join(ROOT, 'docs', 'dashboard-phone.png'));

    t.same(problems, [], 'no console errors or CSP violations');
    t.same(foreign, [], 'no request leaves the gateway (works offline)');
    t.equal(
      h.records.filter((r) => r.operation === 'other').length,
      0,
      'dashboard and event stream were never recorded as registry requests',
    );
  },
);

t.test('the page is self-contained and locked down by its CSP', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const r = await get(h.base, '/-/stats');
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /^text\/html/);
  t.match(r.headers['content-security-policy'], /default-src 'none'/);
  t.match(r.headers['content-security-policy'], /script-src 'sha256-/);
  t.notMatch(
    r.body,
    /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
    'no external scripts, styles or URLs',
  );
  const ev = await new Promise<string>((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.get(`${h.base}/-/stats/events`, { agent: false }, (res) => {
        t.match(res.headers['content-type'], /^text\/event-stream/);
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes('event: tick')) {
            req.destroy();
            resolve(buf);
          }
        });
      });
      req.on('error', reject);
    });
  });
  t.match(ev, /^retry: 2000\n\nevent: init\ndata: \{/);
  const init = JSON.parse(/event: init\ndata: (.*)\n/.exec(ev)![1]!);
  t.same(Object.keys(init.series).sort(), ['bytesIn', 'bytesOut', 'errors', 'requests']);
  t.ok(init.state.conn.writing >= 1, 'the stream itself is writing');
});
