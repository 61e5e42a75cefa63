/**
 * Repository search in the browser asks the registry, in headless Chromium, on a store with more
 * repositories than one page of the list (1,200, plus two images pushed by skopeo that sort after
 * all of them): the list shows one page and a button for more; typing a text that is in the middle
 * of names not on the page finds them with one request after the typing pauses; and clearing the
 * search shows the list as it was, pages read with More included, without a request.
 */
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { makeOciImage } from '../helpers/oci-image.js';
import { fetchInsecure } from '../helpers/processes.js';
import { scratchDir } from '../helpers/scoped.js';
import { ADMIN, VIEWER, basicAuth, gatewayWithUsers, pushAs } from '../helpers/gateway-users.js';
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
  await pushAs(ADMIN, image, `${gw.host}/team/billing-api:1.0`);
  // The store was written without its catalog index, which the core builds in the background
  // from the first listing on; until then a search page scans a slice of the store. Wait for
  // the index, so each search below is the one request it is on an indexed store.
  for (let i = 0; ; i++) {
    const r = await fetchInsecure(`${base}/v2/_portcullis/usage?n=10&q=zeta`, {
      headers: { authorization: basicAuth(ADMIN) },
    });
    if (r.status === 200 && !r.headers.link) break;
    if (i === 100) throw new Error(`the catalog index is not built after 10 s (${r.status})`);
    await new Promise((res) => setTimeout(res, 100));
  }

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const listed = (page: Page) => page.locator('#repos button').evaluateAll((b) => b.map((x) => x.dataset.repo));

  t.test('search finds names containing the text beyond the loaded pages, one request per pause', async (t) => {
    const { page } = await openBrowserPage(browser, base, 1280, 800, VIEWER);
    const listings: URL[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/v2/_portcullis/usage' || u.pathname === '/v2/_catalog') listings.push(u);
    });
    const asked = () =>
      listings.map((u) => [u.pathname, u.searchParams.get('n'), u.searchParams.get('q'), u.searchParams.get('last')]);
    await page.locator(`#repos button[data-repo="${REPOS[PAGE - 1]}"]`).waitFor();
    t.same(await listed(page), REPOS.slice(0, PAGE), 'the first page of repositories, in order');
    t.equal(await page.locator('#repo-count').textContent(), `${PAGE}+`, 'more than one page');
    t.ok(await page.locator('#more-repos').isVisible(), 'a button to list more');
    await page.click('#more-repos');
    await page.locator('#repo-count:text("1000+")').waitFor();
    t.match(await page.locator('#repos').textContent(), /500 more: type to narrow/, 'the next page follows');
    t.equal(await page.locator('#repos button[data-repo="team/billing-api"]').count(), 0, 'not read yet');

    listings.length = 0;
    await page.locator('#filter').pressSequentially('api', { delay: 20 });
    const api = page.locator('#repos button[data-repo="team/billing-api"]');
    await api.locator('.meta[data-tags]').waitFor();
    t.same(await listed(page), ['team/billing-api'], 'a name with the text in the middle, beyond the loaded pages');
    t.equal(await api.locator('.meta').getAttribute('data-tags'), '1', 'with its figures from the same listing');
    t.equal(await page.locator('#repo-count').textContent(), '1 found');
    t.same(asked(), [['/v2/_portcullis/usage', String(PAGE), 'api', null]], 'one request for the whole word');

    listings.length = 0;
    await page.fill('#filter', 'r11');
    await page.waitForFunction(() => document.querySelectorAll('#repos button').length === 100);
    t.same(
      await listed(page),
      REPOS.filter((r) => r.includes('r11')),
      'every name containing the text',
    );
    t.equal(await page.locator('#repo-count').textContent(), '100 found');
    t.same(asked(), [['/v2/_portcullis/usage', String(PAGE), 'r11', null]], 'one request');

    listings.length = 0;
    const none = page.waitForResponse((r) => new URL(r.url()).searchParams.get('q') === 'qqq');
    await page.fill('#filter', 'qqq');
    await none;
    await page.locator('#repos li.empty', { hasText: 'no repository matches' }).waitFor();
    t.equal(await page.locator('#repo-count').textContent(), '0 found', 'nothing, after one request');

    // Clearing shows the two pages read before the search, and More goes on after them.
    listings.length = 0;
    await page.fill('#filter', '');
    await page.locator('#repo-count:text("1000+")').waitFor();
    t.same(await listed(page), REPOS.slice(0, PAGE), 'the list as it was before the search');
    t.match(await page.locator('#repos').textContent(), /500 more: type to narrow/, 'both pages of it');
    t.ok(await page.locator('#more-repos').isVisible(), 'with its button for more');
    await page.waitForTimeout(300); // longer than the typing pause: a request would have gone out
    t.same(asked(), [], 'and no request for it');
    await page.click('#more-repos');
    await page.locator('#repo-count:text("1202")').waitFor();
    t.same(
      asked(),
      [['/v2/_portcullis/usage', String(PAGE), null, REPOS[2 * PAGE - 1]]],
      'More reads on after the last page read before the search',
    );
    t.notOk(await page.locator('#more-repos').isVisible(), 'everything is listed');
    await page.context().close();
  });
}
