/**
 * The repository browser on the other backends, in headless Chromium: the embedded core on S3
 * (a real OpenStack Swift s3api) and `--upstream` in front of registry:2 (Debian's
 * docker-registry 2.8, which has no referrers API and no usage figures). On each: skopeo pushes
 * an image with labels and a two-platform index, an SBOM refers to the image (on registry:2
 * through the referrers tag, as clients do there), and the page shows tags with digest, size,
 * created time and platforms, the labels, the SBOM, and refuses a read-only user's delete.
 * Where registry:2 cannot say more the page says so without an error.
 * With UPDATE_SCREENSHOTS=1 the upstream screenshot is copied to docs/.
 */
import t, { type Test } from 'tap';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { makeOciImage } from '../helpers/oci-image.js';
import { pushReferrer } from '../helpers/oci-artifact.js';
import { ROOT, fetchInsecure, hasCommand } from '../helpers/processes.js';
import { scratchDir } from '../helpers/scoped.js';
import { startSwift, swiftMissing } from '../helpers/swift.js';
import { ADMIN, VIEWER, basicAuth, gatewayWithUsers, pushAs, registry2Backend } from '../helpers/gateway-users.js';
import { browserTestsMissing, launchChromium, openBrowserPage, shownTags, tagRow } from '../helpers/ui-browser.js';

const LABELS = { 'org.opencontainers.image.title': 'api', 'org.opencontainers.image.version': '2.1.0' };
const SBOM_TYPE = 'application/spdx+json';

const missing = browserTestsMissing();
if (missing) {
  t.plan(0, missing);
} else {
  const work = await scratchDir(t, 'ui-backends-');
  const image = await makeOciImage(join(work, 'image'), {
    layerSizes: [4000, 20_000],
    created: '2026-11-28T12:00:00.000Z',
    labels: LABELS,
  });
  const multi = await makeOciImage(join(work, 'multi'), { layerSizes: [2000], archs: ['amd64', 'arm64'] });
  let browser: Browser | undefined;
  t.teardown(() => browser?.close());

  /** Push the sample content through portcullis at base, then check what the page shows. */
  const scenario = async (
    t: Test,
    base: string,
    opts: { tagSchema: boolean; shot?: string; width: number; height: number },
  ) => {
    const host = new URL(base).host;
    await pushAs(ADMIN, image, `${host}/shop/api:2.1.0`);
    await pushAs(ADMIN, multi, `${host}/shop/api:multi`, { all: true });
    const sbom = await pushReferrer(base, 'shop/api', image.manifest, {
      artifactType: SBOM_TYPE,
      layerType: SBOM_TYPE,
      content: Buffer.from('{"spdxVersion":"SPDX-2.3","name":"api"}'),
      created: '2026-11-28T12:30:00Z',
      authorization: basicAuth(ADMIN),
      tagSchema: opts.tagSchema,
    });

    browser ??= await launchChromium();
    const { page, status } = await openBrowserPage(browser, base, opts.width, opts.height, VIEWER);
    t.equal(status, 200, 'the page loads');
    await page.click('#repos button[data-repo="shop/api"]');
    await tagRow(page, '2.1.0').locator('td.size[data-bytes]').waitFor();
    t.same(await shownTags(page), ['2.1.0', 'multi'], 'both tags; a referrers tag is not listed as an image');
    const row = tagRow(page, '2.1.0');
    t.equal(await row.getAttribute('data-digest'), image.manifest.digest, 'digest as pushed');
    const bytes = image.config.size + image.layers.reduce((a, l) => a + l.size, 0);
    t.equal(await row.locator('td.size').getAttribute('data-bytes'), String(bytes), 'size = config + layers');
    t.equal(await row.locator('td.created').getAttribute('data-time'), '2026-11-28T12:00:00.000Z', 'created');
    await row.locator('.referrer-count').waitFor();
    t.equal(await row.locator('.referrer-count').textContent(), '1 referrer');
    await tagRow(page, 'multi').locator('td.size[data-bytes]').waitFor();
    t.equal(await tagRow(page, 'multi').locator('.kind').textContent(), 'index · 2 platforms');
    await page.locator('#tag-count:text("2 tags")').waitFor();

    await row.locator('td').first().click();
    const details = page.locator('tr.detail-row:not([hidden])');
    await details.locator('table.referrer-list').waitFor();
    t.equal(await details.locator('.pull-cmd').textContent(), `docker pull ${host}/shop/api:2.1.0`);
    t.match(await details.locator('table.labels').textContent(), /org\.opencontainers\.image\.version2\.1\.0/);
    t.equal(
      await details.locator('table.referrer-list tbody tr').getAttribute('data-digest'),
      sbom.digest,
      'the SBOM listed',
    );
    t.match(
      await details.locator('.referrers').textContent(),
      opts.tagSchema ? /from the tag sha256-/ : /from the referrers API/,
      'where the referrers came from',
    );
    if (!opts.tagSchema) {
      // The embedded core on S3 keeps the usage figures.
      const meta = page.locator('#repos button[data-repo="shop/api"] .meta[data-bytes]');
      await meta.waitFor();
      t.equal(await meta.getAttribute('data-tags'), '2', 'tag count next to the name');
      t.ok(Number(await meta.getAttribute('data-bytes')) > bytes, 'size next to the name');
      t.equal(await page.locator('#store-note').getAttribute('data-state'), 'available');
      await page.locator('#repo-times .last-pushed').waitFor();
      t.ok(await row.locator('td.pushed').getAttribute('data-time'), 'the tag says when it was pushed');
      t.equal(await row.locator('td.pulled').textContent(), 'never', 'and that it was never pulled');
    }
    if (opts.tagSchema) {
      // registry:2 keeps no usage figures: the page says so and counts the tags from tags/list.
      t.equal(await page.locator('#store-note').getAttribute('data-state'), 'unavailable', 'usage unavailable');
      t.match(
        await page.locator('#store-note').textContent(),
        /sizes, tag counts and push\/pull times are unavailable/,
      );
      t.equal(await page.locator('#tag-count').textContent(), '2 tags', 'the tag count tags/list gives');
      t.match(await page.locator('#repo-times').textContent(), /unavailable from this registry/);
      t.equal(await page.locator('#repos .meta').textContent(), '', 'no figures next to the name');
      t.same(
        [await row.locator('td.pushed').textContent(), await row.locator('td.pulled').textContent()],
        ['—', '—'],
        'no per-tag times, the tags from tags/list',
      );
      t.match(await row.locator('td.pulled').getAttribute('title'), /unavailable/);
    }
    t.equal(await page.locator('#status.error').count(), 0, 'no error shown');
    if (opts.shot) {
      await page.screenshot({ path: join(work, opts.shot), fullPage: true });
      if (process.env.UPDATE_SCREENSHOTS === '1') await copyFile(join(work, opts.shot), join(ROOT, 'docs', opts.shot));
    }

    page.once('dialog', (d) => void d.accept());
    await row.locator('button[data-delete]').click();
    await page.locator('#status.error').waitFor();
    t.match(await page.locator('#status').textContent(), /403 DENIED/, 'a read-only user is refused the delete');
    const head = await fetchInsecure(`${base}/v2/shop/api/manifests/2.1.0`, {
      method: 'HEAD',
      headers: { accept: image.manifest.mediaType, authorization: basicAuth(ADMIN) },
    });
    t.equal(head.status, 200, 'the tag is still there');
    await page.context().close();
  };

  const noSwift = swiftMissing();
  t.test('embedded core on S3 (Swift s3api), phone width', { skip: noSwift ?? false }, async (t) => {
    const swift = await startSwift();
    t.teardown(() => swift.stop());
    const bucket = await swift.createBucket();
    // Blob GETs answer 307 to a presigned URL on another origin, which the page's own policy
    // (connect-src 'self') does not let it follow: its config reads must be answered here.
    const storage = ['--storage', `s3://${bucket}/registry`, '--s3-endpoint', swift.endpoint, '--storage-redirect'];
    const gw = await gatewayWithUsers(t, work, storage, { env: swift.env });
    await scenario(t, gw.origin, { tagSchema: false, width: 390, height: 844 });
    const config = await fetchInsecure(`${gw.origin}/v2/shop/api/blobs/${image.config.digest}`, {
      headers: { authorization: basicAuth(ADMIN) },
    });
    t.equal(config.status, 307, 'a client reading the same config blob is redirected to the bucket');
    t.equal(new URL(config.headers.location ?? '').origin, new URL(swift.endpoint).origin);
  });

  const noRegistry2 = hasCommand('docker-registry') || hasCommand('registry') ? false : 'registry:2 not installed';
  t.test('--upstream registry:2 (no referrers API, no usage figures), desktop', { skip: noRegistry2 }, async (t) => {
    const gw = await gatewayWithUsers(t, work, await registry2Backend(t));
    await scenario(t, gw.origin, { tagSchema: true, shot: 'ui-upstream.png', width: 1280, height: 800 });
  });
}
