/**
 * The repository browser at /-/ui in a real headless Chromium (Debian's chromium +
 * playwright-core) against the embedded core, with images pushed by skopeo and users from
 * an htpasswd file and an access file: the page lists what was pushed with the digest and size
 * the registry holds, filters as you type, and deletes a tag for a user the rules allow while
 * a read-only user sees the server's refusal and the tag stays. Run at desktop and phone
 * widths; with UPDATE_SCREENSHOTS=1 (not PORTCULLIS_*: the server refuses unknown variables of its own prefix) the screenshots are copied to docs/.
 */
import t, { type Test } from 'tap';
import { copyFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { makeOciImage, type GeneratedImage } from '../helpers/oci-image.js';
import {
  ROOT,
  execFileP,
  fetchInsecure,
  freePort,
  hasCommand,
  removeDir,
  skopeo,
  startPortcullis,
  tempDir,
} from '../helpers/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

const ACCESS = `
rules:
  - repository: "*"
    users: [admin]
    actions: ["*"]
  - repository: "*"
    users: [viewer]
    actions: [pull]
`;

const missing = !existsSync(CHROMIUM)
  ? 'chromium not installed'
  : !hasCommand('skopeo')
    ? 'skopeo not installed'
    : !hasCommand('htpasswd')
      ? 'htpasswd (apache2-utils) not installed'
      : undefined;

/** What the registry must report for a single image: its config plus its layers. */
const imageSize = (im: GeneratedImage) => im.config.size + im.layers.reduce((a, l) => a + l.size, 0);

if (missing) {
  t.plan(0, missing);
} else {
  const { chromium } = await import('playwright-core');
  const work = await tempDir('ui-browser-');
  t.teardown(() => removeDir(work));
  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'admin', 'admin-pw']);
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, 'viewer', 'viewer-pw']);
  const access = join(work, 'access.yaml');
  await writeFile(access, ACCESS);

  const port = await freePort();
  const registry = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--listen', `127.0.0.1:${port}`, '--storage', join(work, 'data'), '--htpasswd', htpasswd, '--access', access],
    { probe: `${registry}/_ping` },
  );
  t.teardown(() => gw.stop());

  const push = async (im: GeneratedImage, ref: string, all = false) =>
    skopeo([
      'copy',
      '--quiet',
      ...(all ? ['--all'] : []),
      '--dest-tls-verify=false',
      '--dest-creds',
      'admin:admin-pw',
      `oci:${im.dir}:${im.tag}`,
      `docker://127.0.0.1:${port}/${ref}`,
    ]);
  const v1 = await makeOciImage(join(work, 'v1'), { layerSizes: [3000, 70_000] });
  const v2 = await makeOciImage(join(work, 'v2'), { layerSizes: [5000] });
  const multi = await makeOciImage(join(work, 'multi'), { layerSizes: [1000], archs: ['amd64', 'arm64'] });
  await push(v1, 'team/app:v1');
  await push(v2, 'team/app:v2');
  await push(multi, 'team/app:multi', true);
  await push(v2, 'lib/tool:1.0');

  const basicAuth = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const headStatus = async (ref: string) =>
    (
      await fetchInsecure(`${registry}/v2/team/app/manifests/${ref}`, {
        method: 'HEAD',
        headers: { accept: ACCEPT, authorization: basicAuth('admin', 'admin-pw') },
      })
    ).status;

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  t.teardown(() => browser.close());

  const open = async (t: Test, width: number, height: number, user?: [string, string]): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width, height } });
    const page = await ctx.newPage();
    const res = await page.goto(`${registry}/-/ui`);
    t.equal(res?.status(), 200, 'the page loads without credentials');
    if (user) {
      await page.fill('#user', user[0]);
      await page.fill('#password', user[1]);
      await page.click('#sign-in');
    }
    return page;
  };
  const repoNames = (page: Page) => page.locator('#repos button').allTextContents();
  const row = (page: Page, tag: string) => page.locator(`tr.tag-row[data-tag="${tag}"]`);

  t.test('the page is self-contained and only answers GET and HEAD', async (t) => {
    const page = await fetchInsecure(`${registry}/-/ui`);
    t.equal(page.status, 200);
    t.match(page.headers['content-security-policy'], /default-src 'none'/, 'nothing from elsewhere');
    t.match(page.headers['content-security-policy'], /connect-src 'self'/, 'talks only to its own origin');
    t.notMatch(page.body, /(src|href)="https?:/, 'no external assets');
    const post = await fetchInsecure(`${registry}/-/ui`, { method: 'POST' });
    t.equal(post.status, 405, 'POST refused');
  });

  t.test('anonymous: the page loads, the catalog asks to sign in', async (t) => {
    const page = await open(t, 1280, 800);
    await page.locator('#status.error').waitFor();
    t.match(await page.locator('#status').textContent(), /401/, 'the 401 from the catalog is shown');
    t.same(await repoNames(page), [], 'no repositories listed anonymously');
    await page.context().close();
  });

  for (const [label, width, height, shot] of [
    ['desktop', 1280, 800, 'ui.png'],
    ['phone', 390, 844, 'ui-phone.png'],
  ] as const) {
    t.test(`${label}: repositories, tags with digest and size, platforms, filter`, async (t) => {
      const page = await open(t, width, height, ['viewer', 'viewer-pw']);
      await page.locator('#repos button[data-repo="team/app"]').waitFor();
      t.same((await repoNames(page)).sort(), ['lib/tool', 'team/app'], 'both pushed repositories');

      await page.fill('#filter', 'too');
      await page.waitForFunction(() => document.querySelectorAll('#repos button').length === 1);
      t.same(await repoNames(page), ['lib/tool'], 'typing filters the list');
      await page.fill('#filter', 'zzz');
      t.match(await page.locator('#repos').textContent(), /no repository matches/);
      await page.fill('#filter', '');

      await page.click('#repos button[data-repo="team/app"]');
      await row(page, 'v1').locator('td.size[data-bytes]').waitFor();
      t.same(
        await page.locator('tr.tag-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tag)),
        ['multi', 'v1', 'v2'],
        'every tag listed',
      );
      t.equal(await row(page, 'v1').getAttribute('data-digest'), v1.manifest.digest, 'v1 digest as pushed');
      t.equal(
        await row(page, 'v1').locator('td.digest').textContent(),
        v1.manifest.digest.slice(0, 19),
        'short digest shown',
      );
      t.equal(
        await row(page, 'v1').locator('td.size').getAttribute('data-bytes'),
        String(imageSize(v1)),
        'size = config + layers',
      );
      t.equal(
        await row(page, 'v1').locator('td.size').textContent(),
        `${(imageSize(v1) / 1024).toFixed(1)} KiB`,
        'size in readable units',
      );
      // On a phone the platforms column is hidden and the size column says how many there are.
      await row(page, 'multi').locator('.chip').nth(1).waitFor({ state: 'attached' });
      t.equal(await row(page, 'multi').getAttribute('data-digest'), multi.index!.digest, 'index digest');
      t.equal(await row(page, 'multi').locator('td.size').textContent(), '2 platforms');
      t.same(
        await row(page, 'multi').locator('.chip').allTextContents(),
        ['linux/amd64', 'linux/arm64'],
        'platforms of the index',
      );

      await row(page, 'v1').locator('td').first().click();
      const details = page.locator('tr.detail-row:not([hidden])');
      await details.waitFor();
      t.equal(
        await details.locator('.pull-cmd').textContent(),
        `docker pull 127.0.0.1:${port}/team/app:v1`,
        'the pull command to copy',
      );
      t.equal(await details.locator('.full-digest').textContent(), v1.manifest.digest);
      const layerText = await details.locator('table.layers').textContent();
      t.ok(layerText?.includes(v1.config.digest), 'config listed');
      for (const l of v1.layers) t.ok(layerText?.includes(l.digest), `layer ${l.digest.slice(7, 19)} listed`);

      await page.screenshot({ path: join(work, shot), fullPage: true });
      if (process.env.UPDATE_SCREENSHOTS === '1') await copyFile(join(work, shot), join(ROOT, 'docs', shot));
      await page.context().close();
    });
  }

  t.test('a read-only user is refused the delete and the tag stays', async (t) => {
    const page = await open(t, 390, 844, ['viewer', 'viewer-pw']);
    await page.click('#repos button[data-repo="team/app"]');
    await row(page, 'v2').locator('td.size[data-bytes]').waitFor();
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await row(page, 'v2').locator('button[data-delete]').click();
    await page.locator('#status.error').waitFor();
    t.match(asked, /Delete team\/app:v2/, 'asked to confirm first');
    t.match(await page.locator('#status').textContent(), /403 DENIED/, 'the refusal is shown');
    t.equal(await row(page, 'v2').count(), 1, 'the tag is still listed');
    t.equal(await headStatus('v2'), 200, 'and still in the registry');
    await page.context().close();
  });

  t.test('cancelling the confirmation deletes nothing; an allowed user deletes the tag', async (t) => {
    const page = await open(t, 1280, 800, ['admin', 'admin-pw']);
    await page.click('#repos button[data-repo="team/app"]');
    await row(page, 'v1').locator('td.size[data-bytes]').waitFor();
    page.once('dialog', (d) => void d.dismiss());
    await row(page, 'v1').locator('button[data-delete]').click();
    t.equal(await headStatus('v1'), 200, 'dismissed: still there');

    page.once('dialog', (d) => void d.accept());
    await row(page, 'v1').locator('button[data-delete]').click();
    await page.locator('#status.info').waitFor();
    await row(page, 'v2').waitFor();
    t.equal(await row(page, 'v1').count(), 0, 'v1 gone from the page');
    t.equal(await row(page, 'v2').count(), 1, 'v2 still listed');
    t.equal(await headStatus('v1'), 404, 'v1 gone from the registry');
    t.equal(await headStatus('v2'), 200, 'v2 untouched');
    await page.context().close();
  });
}
