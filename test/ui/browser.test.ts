/**
 * The repository browser at /-/ui in a real headless Chromium (Debian's chromium +
 * playwright-core) against the embedded core, with images pushed by skopeo and users from
 * an htpasswd file and an access file: the page lists what was pushed with the digest and size
 * the registry holds, filters as you type, and deletes a tag for a user the rules allow while
 * a read-only user sees the server's refusal and the tag stays. Run at desktop and phone
 * widths; with UPDATE_SCREENSHOTS=1 (not PORTCULLIS_*: the server refuses unknown variables of its own prefix) the screenshots are copied to docs/.
 */
import t, { type Test } from 'tap';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { makeOciImage, type GeneratedImage } from '../helpers/oci-image.js';
import { pushReferrer } from '../helpers/oci-artifact.js';
import { ROOT, fetchInsecure, freePort, removeDir, skopeo, startPortcullis, tempDir } from '../helpers/processes.js';
import { pushAs } from '../helpers/gateway-users.js';
import {
  ADMIN,
  basicAuth,
  browserTestsMissing,
  launchChromium,
  openBrowserPage,
  shownTags,
  tagRow as row,
  userFlags,
} from '../helpers/ui-browser.js';
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

/** What the registry must report for a single image: its config plus its layers. */
const imageSize = (im: GeneratedImage) => im.config.size + im.layers.reduce((a, l) => a + l.size, 0);

/** Every config and layer blob of an index's platform images, each counted once (sizes from the layout). */
async function platformBytes(im: GeneratedImage): Promise<number> {
  const blobs = new Map<string, number>();
  const index = JSON.parse(await readFile(join(im.dir, 'blobs', 'sha256', im.index!.digest.slice(7)), 'utf8'));
  for (const d of index.manifests as { digest: string }[]) {
    const m = JSON.parse(await readFile(join(im.dir, 'blobs', 'sha256', d.digest.slice(7)), 'utf8'));
    for (const b of [m.config, ...m.layers] as { digest: string; size: number }[]) blobs.set(b.digest, b.size);
  }
  return [...blobs.values()].reduce((a, b) => a + b, 0);
}

const missing = browserTestsMissing();
if (missing) {
  t.plan(0, missing);
} else {
  const work = await tempDir('ui-browser-');
  t.teardown(() => removeDir(work));

  const port = await freePort();
  const registry = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--listen', `127.0.0.1:${port}`, '--storage', join(work, 'data'), ...(await userFlags(work))],
    { probe: `${registry}/_ping` },
  );
  t.teardown(() => gw.stop());

  const push = (im: GeneratedImage, ref: string, all = false) => pushAs(ADMIN, im, `127.0.0.1:${port}/${ref}`, { all });
  const LABELS = { 'org.opencontainers.image.source': 'https://example.com/team/app', maintainer: 'team@example.com' };
  const started = Date.now();
  const v1 = await makeOciImage(join(work, 'v1'), {
    layerSizes: [3000, 70_000],
    created: '2026-11-30T10:00:00.000Z',
    labels: LABELS,
  });
  const v2 = await makeOciImage(join(work, 'v2'), { layerSizes: [5000] });
  const multi = await makeOciImage(join(work, 'multi'), {
    layerSizes: [1000],
    archs: ['amd64', 'arm64'],
    created: '2026-11-29T08:00:00.000Z',
  });
  await push(v1, 'team/app:v1');
  await push(v2, 'team/app:v2');
  await push(multi, 'team/app:multi', true);
  await push(v2, 'lib/tool:1.0');

  const adminAuth = basicAuth(ADMIN);
  // An SBOM and a signature referring to v1, pushed as oras and cosign push them (manifest with subject).
  const sbom = await pushReferrer(registry, 'team/app', v1.manifest, {
    artifactType: 'application/spdx+json',
    layerType: 'application/spdx+json',
    content: Buffer.from('{"spdxVersion":"SPDX-2.3"}'),
    created: '2026-11-30T11:00:00Z',
    authorization: adminAuth,
  });
  const signature = await pushReferrer(registry, 'team/app', v1.manifest, {
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    layerType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    content: Buffer.from('{"critical":{}}'),
    created: '2026-11-30T11:05:00Z',
    authorization: adminAuth,
  });

  // 120 tags of one image: skopeo pushes the first, the rest are manifest PUTs under new tags
  // (what a push of an image already there amounts to).
  await push(v2, 'team/many:t000');
  const v2Manifest = (
    await fetchInsecure(`${registry}/v2/team/many/manifests/t000`, {
      headers: { accept: ACCEPT, authorization: adminAuth },
    })
  ).body;
  const manyTags = Array.from({ length: 120 }, (_, i) => `t${String(i).padStart(3, '0')}`);
  for (const tag of manyTags.slice(1)) {
    const r = await fetchInsecure(`${registry}/v2/team/many/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'content-type': v2.manifest.mediaType, authorization: adminAuth },
      body: v2Manifest,
    });
    if (r.status !== 201) throw new Error(`PUT ${tag}: ${r.status} ${r.body}`);
  }

  const headStatus = async (ref: string) =>
    (
      await fetchInsecure(`${registry}/v2/team/app/manifests/${ref}`, {
        method: 'HEAD',
        headers: { accept: ACCEPT, authorization: adminAuth },
      })
    ).status;

  const browser = await launchChromium();
  t.teardown(() => browser.close());

  const open = async (t: Test, width: number, height: number, user?: [string, string]): Promise<Page> => {
    const { page, status } = await openBrowserPage(browser, registry, width, height, user);
    t.equal(status, 200, 'the page loads without credentials');
    return page;
  };
  const repoNames = (page: Page) => page.locator('#repos button .name').allTextContents();

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
      t.same((await repoNames(page)).sort(), ['lib/tool', 'team/app', 'team/many'], 'every pushed repository');

      // Figures from the usage extension: 120 tags of one image take the room of one image.
      const many = page.locator('#repos button[data-repo="team/many"] .meta[data-bytes]');
      await many.waitFor();
      t.equal(await many.getAttribute('data-tags'), '120', '120 tags');
      t.equal(
        await many.getAttribute('data-bytes'),
        String(imageSize(v2) + Buffer.byteLength(v2Manifest)),
        'the size of one image: the manifest, config and layers its 120 tags share, counted once',
      );
      t.match(await many.textContent(), /^120 tags · \d+\.\d KiB$/);
      const appUsage = JSON.parse(
        (await fetchInsecure(`${registry}/v2/team/app/_portcullis/usage`, { headers: { authorization: adminAuth } }))
          .body,
      );
      const app = page.locator('#repos button[data-repo="team/app"] .meta[data-bytes]');
      await app.waitFor();
      t.same(
        [await app.getAttribute('data-tags'), await app.getAttribute('data-bytes')],
        [String(appUsage.tags), String(appUsage.bytes)],
        'team/app: the figures the registry keeps',
      );
      t.equal(await page.locator('#store-note').getAttribute('data-state'), 'available');
      t.match(
        await page.locator('#store-note').textContent(),
        /^(Store: .+, every blob once|Store total not counted yet)\. Sizes count a layer shared by a repository's images once/,
      );

      await page.fill('#filter', 'too');
      await page.waitForFunction(() => document.querySelectorAll('#repos button').length === 1);
      t.same(await repoNames(page), ['lib/tool'], 'typing filters the list');
      await page.fill('#filter', 'zzz');
      t.match(await page.locator('#repos').textContent(), /no repository matches/);
      await page.fill('#filter', '');

      await page.click('#repos button[data-repo="team/app"]');
      await row(page, 'v1').locator('td.size[data-bytes]').waitFor();
      await page.locator('#repo-times .last-pushed').waitFor();
      t.match(await page.locator('#tag-count').textContent(), /^3 tags · /, 'tag count and size above the tags');
      const pushedAt = Date.parse((await page.locator('#repo-times .last-pushed').getAttribute('title')) ?? '');
      t.ok(pushedAt >= started && pushedAt <= Date.now(), 'last pushed: during this test');
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
      t.equal(
        await row(page, 'v1').locator('td.created').getAttribute('data-time'),
        '2026-11-30T10:00:00.000Z',
        'created time from the image config',
      );
      t.ok(await row(page, 'v1').locator('td.created').isVisible(), 'created shown at this width');
      await row(page, 'v1').locator('.referrer-count').waitFor();
      t.equal(
        await row(page, 'v1').locator('.referrer-count').textContent(),
        '2 referrers',
        'referrers counted in the row',
      );
      t.equal(await row(page, 'v2').locator('.referrer-count').count(), 0, 'no referrer chip without referrers');

      // On a phone the platforms column is hidden and the tag cell says it is an index of 2 platforms.
      await row(page, 'multi').locator('td.platforms .chip').nth(1).waitFor({ state: 'attached' });
      t.equal(await row(page, 'multi').getAttribute('data-digest'), multi.index!.digest, 'index digest');
      t.equal(await row(page, 'multi').locator('.kind').textContent(), 'index · 2 platforms');
      t.ok(await row(page, 'multi').locator('.kind').isVisible(), 'the platform count is visible at this width');
      t.same(
        await row(page, 'multi').locator('td.platforms .chip').allTextContents(),
        ['linux/amd64', 'linux/arm64'],
        'platforms of the index',
      );
      // The two platforms share no blob here, so the index size is the sum of both images.
      const multiBytes = await platformBytes(multi);
      t.equal(await row(page, 'multi').locator('td.size').getAttribute('data-bytes'), String(multiBytes), 'index size');
      t.equal(
        await row(page, 'multi').locator('td.created').getAttribute('data-time'),
        '2026-11-29T08:00:00.000Z',
        'index created = its newest platform',
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
      t.match(
        await details.locator('.tag-times').textContent(),
        /^this tag last pushed (just now|\d+ min ago) · last pulled never$/,
        "the tag's times in its details (a phone has no room for the push time in the row)",
      );
      const afterBrowsing = JSON.parse(
        (await fetchInsecure(`${registry}/v2/team/app/_portcullis/usage`, { headers: { authorization: adminAuth } }))
          .body,
      );
      t.equal(
        afterBrowsing.lastPulled,
        null,
        'reading manifests in the browser records no pull (retention would count it)',
      );
      const layerText = await details.locator('table.layers').textContent();
      t.ok(layerText?.includes(v1.config.digest), 'config listed');
      for (const l of v1.layers) t.ok(layerText?.includes(l.digest), `layer ${l.digest.slice(7, 19)} listed`);
      t.same(
        await details.locator('table.labels tr').evaluateAll((rows) => rows.map((r) => r.textContent)),
        Object.keys(LABELS)
          .sort()
          .map((k) => `${k}${LABELS[k as keyof typeof LABELS]}`),
        'labels from the image config',
      );
      await details.locator('table.referrer-list').waitFor();
      const refRows = details.locator('table.referrer-list tbody tr');
      t.same(
        (await refRows.evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.digest))).sort(),
        [sbom.digest, signature.digest].sort(),
        'both referrers listed by digest',
      );
      const refText = await details.locator('table.referrer-list').textContent();
      t.ok(refText?.includes('application/spdx+json'), 'the SBOM by its artifact type');
      t.ok(refText?.includes('application/vnd.dev.cosign.artifact.sig.v1+json'), 'the signature by its artifact type');
      t.match(await details.locator('.referrers').textContent(), /from the referrers API/);

      await page.screenshot({ path: join(work, shot), fullPage: true });
      if (process.env.UPDATE_SCREENSHOTS === '1') await copyFile(join(work, shot), join(ROOT, 'docs', shot));
      await page.context().close();
    });
  }

  t.test('120 tags: a page of 50 first, more on request, search by prefix asks the registry', async (t) => {
    const page = await open(t, 1280, 800, ['viewer', 'viewer-pw']);
    // Tags come from the per-tag usage listing (names with their push and pull times), paged like tags/list.
    const tagLists: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/tags/list') || r.url().includes('/_portcullis/usage/tags')) {
        const u = new URL(r.url());
        tagLists.push(u.pathname.replace('/v2/team/many', '') + u.search);
      }
    });
    const shown = () =>
      page.locator('tr.tag-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tag));
    await page.click('#repos button[data-repo="team/many"]');
    await row(page, 't049').waitFor();
    await page.locator('#tag-count:text("120 tags")').waitFor();
    t.same(await shown(), manyTags.slice(0, 50), 'the first 50 tags, in order');
    t.equal(tagLists[0], '/_portcullis/usage/tags?n=50', 'the first screen asks for one page of tags');
    t.notOk(
      tagLists.some((x) => x.startsWith('/tags/list?')),
      'the tag list is read once, with its times (the count comes from the usage figures)',
    );
    t.ok(await page.locator('#more-tags').isVisible(), 'a button to see more');

    await page.click('#more-tags');
    await row(page, 't099').waitFor();
    t.same(await shown(), manyTags.slice(0, 100), 'the next 50 follow');
    t.ok(tagLists.includes('/_portcullis/usage/tags?n=50&last=t049'), 'the next page follows the Link header');
    // The setup read t000's manifest (a pull), and all 120 tags point at that manifest.
    const t099 = row(page, 't099');
    t.ok(Date.parse((await t099.locator('td.pushed').getAttribute('data-time')) ?? '') >= started, 'pushed, page 2');
    t.ok(Date.parse((await t099.locator('td.pulled').getAttribute('data-time')) ?? '') >= started, 'pulled, page 2');
    await page.click('#more-tags');
    await row(page, 't119').waitFor();
    await page.locator('#more-tags').waitFor({ state: 'hidden' });
    t.same(await shown(), manyTags, 'all 120 after the last page; no more button');

    tagLists.length = 0;
    await page.fill('#tag-filter', 't11');
    await page.waitForFunction(() => document.querySelectorAll('tr.tag-row').length === 10);
    t.same(
      await shown(),
      manyTags.filter((x) => x.startsWith('t11')),
      'typing narrows to the tags starting with it',
    );
    // Tags starting with t11 all sort after t10~ ('~' sorts after every tag character): one page.
    t.same(
      tagLists,
      ['/_portcullis/usage/tags?n=50&last=t10~'],
      'the search is one request starting just before the prefix',
    );
    await page.fill('#tag-filter', 'x');
    await page.locator('#tags td.empty', { hasText: 'no tag starts with x' }).waitFor();
    t.equal(await page.locator('tr.tag-row').count(), 0, 'no match: no rows, and it says so');
    await page.context().close();
  });

  t.test('each tag shows its last push and last pull; a look in the browser is not a pull', async (t) => {
    const page = await open(t, 1280, 800, ['viewer', 'viewer-pw']);
    const cell = async (tag: string, which: 'pushed' | 'pulled') => {
      const c = row(page, tag).locator(`td.${which}`);
      return { text: await c.textContent(), time: await c.getAttribute('data-time') };
    };
    type Times = { tag: string; lastPushed: string; lastPulled: string | null };
    const fromRegistry = async (): Promise<Record<string, Times | undefined>> =>
      Object.fromEntries(
        (
          JSON.parse(
            (
              await fetchInsecure(`${registry}/v2/team/app/_portcullis/usage/tags`, {
                headers: { authorization: adminAuth },
              })
            ).body,
          ).tags as Times[]
        ).map((x) => [x.tag, x]),
      );
    await page.click('#repos button[data-repo="team/app"]');
    await row(page, 'v1').locator('td.size[data-bytes]').waitFor();
    const recorded = await fromRegistry();
    for (const tag of ['multi', 'v1', 'v2']) {
      const pushed = await cell(tag, 'pushed');
      t.equal(pushed.time, recorded[tag]?.lastPushed, `${tag}: last pushed as the registry recorded it`);
      t.ok(Date.parse(pushed.time ?? '') >= started, `${tag}: pushed during this test`);
      t.same(
        await cell(tag, 'pulled'),
        { text: 'never', time: null },
        `${tag}: never pulled (the page read its manifest: not a pull)`,
      );
    }

    // A real pull of v2 by skopeo: the row says when, v1 (only looked at) stays never.
    const beforePull = Date.now();
    await skopeo([
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--src-creds',
      'viewer:viewer-pw',
      `docker://127.0.0.1:${port}/team/app:v2`,
      `oci:${join(work, 'pulled')}:v2`,
    ]);
    await page.click('#repos button[data-repo="lib/tool"]');
    await row(page, '1.0').waitFor();
    await page.click('#repos button[data-repo="team/app"]');
    await row(page, 'v2').locator('td.pulled[data-time]').waitFor();
    const pulledV2 = await cell('v2', 'pulled');
    t.ok(
      Date.parse(pulledV2.time ?? '') >= Math.floor(beforePull / 1000) * 1000,
      'v2: last pulled = the pull just made',
    );
    t.equal(pulledV2.time, (await fromRegistry()).v2?.lastPulled, 'v2: as the registry recorded it');
    t.equal(pulledV2.text, 'just now');
    t.same(await cell('v1', 'pulled'), { text: 'never', time: null }, 'v1: still never pulled');
    t.ok(await row(page, 'v1').locator('td.pulled').isVisible(), 'the times are shown at this width');
    await page.context().close();
  });

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

  t.test('an allowed user removes a tag only: the manifest stays, reachable by digest', async (t) => {
    await push(v2, 'lib/tool:2.0');
    const page = await open(t, 1280, 800, ADMIN);
    await page.click('#repos button[data-repo="lib/tool"]');
    await row(page, '2.0').locator('td.size[data-bytes]').waitFor();
    await row(page, '2.0').locator('td').first().click();
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.locator('tr.detail-row:not([hidden]) button[data-untag="2.0"]').click();
    await page.locator('#status.info').waitFor();
    t.match(asked, /Remove tag lib\/tool:2\.0\?/, 'asked to confirm first');
    await row(page, '1.0').waitFor();
    t.same(await shownTags(page), ['1.0'], 'the tag is gone from the page, the other stays');
    const head = (ref: string) =>
      fetchInsecure(`${registry}/v2/lib/tool/manifests/${ref}`, {
        method: 'HEAD',
        headers: { accept: ACCEPT, authorization: adminAuth },
      }).then((r) => r.status);
    t.equal(await head('2.0'), 404, 'the tag is gone from the registry');
    t.equal(await head(v2.manifest.digest), 200, 'the manifest stays');
    t.equal(await head('1.0'), 200, 'the other tag of the same manifest stays');
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
