/**
 * Repository search in the browser asks the registry, in headless Chromium, on a store with more
 * repositories than one page of the list (1,200 plus one image pushed by skopeo, which sorts after
 * all of them): the list shows one page and a button for more, and typing a name that is not on
 * the page finds it with one request after the typing pauses, starting just before the text.
 */
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { makeOciImage } from '../helpers/oci-image.js';
import { scratchDir } from '../helpers/scoped.js';
import { ADMIN, VIEWER, gatewayWithUsers, pushAs } from '../helpers/gateway-users.js';
import { browserTestsMissing, launchChromium, openBrowserPage } from '../helpers/ui-browser.js';

/** What the page draws and asks for a page of (REPO_PAGE in src/ui/browser-repos-script.ts). */
const PAGE = 500;
const REPOS = Array.from({ length: 1200 }, (_, i) => `proj/r${String(i).padStart(4, '0')}`);

const missing = browserTestsMissing();
if (missing) {
  t.plan(0, missing);
} else {
  const work = await scratchDir(t, 'ui-search-');
  const data = join(work, 'data');
  // 1,200 repositories with one tag each, written as the core writes them (pushing each would
  // only make the test slower); the core lists them by walking the store and indexes them.
  const image = await makeOciImage(join(work, 'image'), { layerSizes: [3000] });
  for (const name of REPOS) {
    const tags = join(data, 'meta', 'repositories', name, '_manifests', 'tags');
    await mkdir(tags, { recursive: true });
    await writeFile(join(tags, 'latest'), JSON.stringify({ digest: image.manifest.digest }));
  }
  const gw = await gatewayWithUsers(t, work, ['--storage', data]);
  const base = gw.origin;
  await pushAs(ADMIN, image, `${gw.host}/zeta/app:1.0`);

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const listed = (page: Page) => page.locator('#repos button').evaluateAll((b) => b.map((x) => x.dataset.repo));

  t.test('search finds repositories beyond the first page with one request per pause', async (t) => {
    const { page } = await openBrowserPage(browser, base, 1280, 800, VIEWER);
    const listings: URL[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/v2/_portcullis/usage' || u.pathname === '/v2/_catalog') listings.push(u);
    });
    await page.locator(`#repos button[data-repo="${REPOS[PAGE - 1]}"]`).waitFor();
    t.same(await listed(page), REPOS.slice(0, PAGE), 'the first page of repositories, in order');
    t.equal(await page.locator('#repo-count').textContent(), `${PAGE}+`, 'more than one page');
    t.ok(await page.locator('#more-repos').isVisible(), 'a button to list more');
    t.equal(await page.locator('#repos button[data-repo="zeta/app"]').count(), 0, 'zeta/app is not on the page');

    listings.length = 0;
    await page.locator('#filter').pressSequentially('zeta', { delay: 20 });
    const zeta = page.locator('#repos button[data-repo="zeta/app"]');
    await zeta.locator('.meta[data-tags]').waitFor();
    t.same(await listed(page), ['zeta/app'], 'the repository the registry has, not on the page before');
    t.equal(await zeta.locator('.meta').getAttribute('data-tags'), '1', 'with its figures from the same listing');
    t.same(
      listings.map((u) => [u.pathname, u.searchParams.get('n'), u.searchParams.get('last')]),
      [['/v2/_portcullis/usage', String(PAGE), 'zet`~']],
      'one request for the whole word, starting just before it',
    );

    listings.length = 0;
    await page.fill('#filter', 'proj/r11');
    await page.waitForFunction(() => document.querySelectorAll('#repos button').length === 100);
    t.same(
      await listed(page),
      REPOS.filter((r) => r.startsWith('proj/r11')),
      'every name starting with the text, none of them on the first page',
    );
    t.equal(await page.locator('#repo-count').textContent(), '100 found');
    t.equal(listings.length, 1, 'one request');

    await page.fill('#filter', 'qqq');
    await page.locator('#repos li.empty', { hasText: 'no repository matches' }).waitFor();

    await page.fill('#filter', '');
    await page.locator(`#repos button[data-repo="${REPOS[PAGE - 1]}"]`).waitFor();
    await page.click('#more-repos');
    await page.locator('#repo-count:text("1000+")').waitFor();
    t.match(await page.locator('#repos').textContent(), /500 more: type to narrow/, 'the next page follows');
    await page.context().close();
  });
}
