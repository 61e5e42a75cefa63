/**
 * Storage per repository in /metrics (the 20 largest by bytes, the rest as one "other" series;
 * the exposition text parsed) and on the live dashboard in a real headless Chromium, with the
 * gateway build() makes on the embedded core and images pushed through it.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildFromFlags } from '../helpers/gateway.js';
import { removeDir, tempDir } from '../helpers/processes.js';
import { http, OCI_MANIFEST, pushBlob, putManifest } from '../registry/fixtures/harness.js';

const CHROMIUM = '/usr/bin/chromium';

/** Prometheus text exposition: `name{label="value",...} number` lines, comments skipped. */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function pushImage(base: string, repo: string, layerBytes: number): Promise<void> {
  const layer = Buffer.alloc(layerBytes, repo);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', repo }));
  const l = await pushBlob(base, repo, layer);
  const c = await pushBlob(base, repo, config);
  const r = await putManifest(base, repo, 'v1', {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l, size: layer.length }],
  });
  if (r.status !== 201) throw new Error(`push ${repo}: ${r.status} ${r.text}`);
}

t.test('storage per repository: bounded /metrics series and the dashboard', async (t) => {
  const dir = await tempDir('stats-storage-');
  t.teardown(() => removeDir(dir));
  const gateway = await buildFromFlags({ storage: join(dir, 'data') });
  t.teardown(() => gateway.close());
  const { url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const base = url.replace(/\/$/, '');

  // One large repository and 22 small ones of different sizes: 23 > the 20 series allowed.
  await pushImage(base, 'big/app', 200_000);
  for (let i = 0; i < 22; i++) await pushImage(base, `small/r${String(i).padStart(2, '0')}`, 1000 + i * 100);

  const usage = new Map<string, number>();
  let next: string | undefined = '/v2/_portcullis/usage?n=100';
  let store: { bytes: number; blobs: number } | null = null;
  while (next) {
    const r = await http(base, next);
    for (const f of r.json().repositories) usage.set(f.name, f.bytes);
    store = r.json().store;
    next = r.headers.link ? /<([^>]+)>/.exec(String(r.headers.link))![1] : undefined;
  }
  t.equal(usage.size, 23);
  // The store total of a fresh store is counted once in the background: read it again until known.
  for (let i = 0; i < 100 && !store; i++) {
    await new Promise((r) => setTimeout(r, 50));
    store = (await http(base, '/v2/_portcullis/usage?n=1')).json().store;
  }
  t.ok(store, 'the store total is known');

  const metrics = parseExposition((await http(base, '/metrics')).text);
  const stored = metrics.filter((m) => m.name === 'portcullis_repository_stored_bytes');
  t.equal(stored.length, 21, '20 repositories and "other"');
  const value = (name: string) => stored.find((m) => m.labels.repository === name)?.value;
  t.equal(value('big/app'), usage.get('big/app'), 'the largest repository has its own series');
  const smallest = [...usage].sort((a, b) => a[1] - b[1]).slice(0, 3);
  t.equal(
    value('other'),
    smallest.reduce((a, [, b]) => a + b, 0),
    '"other" sums the three smallest',
  );
  for (const [name] of smallest) t.equal(value(name), undefined, `${name} is in "other"`);
  const tags = metrics.filter((m) => m.name === 'portcullis_repository_tags');
  t.equal(tags.find((m) => m.labels.repository === 'other')?.value, 3, 'one tag each in "other"');
  t.equal(metrics.find((m) => m.name === 'portcullis_store_bytes')?.value, store!.bytes);
  t.equal(metrics.find((m) => m.name === 'portcullis_store_blobs')?.value, 3 * 23, 'layer, config, manifest each');

  t.test(
    'the dashboard shows the largest repositories and the store total',
    { skip: !existsSync(CHROMIUM) && 'chromium not installed' },
    async (t) => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      });
      t.teardown(() => browser.close());
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${base}/-/stats`);
      await page.locator('#storage .bar').first().waitFor({ timeout: 15_000 });
      t.equal(await page.locator('#storage .bar').first().getAttribute('data-name'), 'big/app', 'largest first');
      t.equal(await page.locator('#storage .bar').count(), 8, 'eight bars');
      // biome-ignore lint/performance/useDomNodeTextContent: the page as rendered is what the user reads
      t.match(await page.locator('#storage').innerText(), /15 more repositories/);
      await page.waitForFunction(() =>
        /each counted once/.test(document.getElementById('store-total')?.textContent ?? ''),
      );
      // biome-ignore lint/performance/useDomNodeTextContent: the page as rendered is what the user reads
      t.match(await page.locator('#store-total').innerText(), /^\d+(\.\d+)? kB in 69 blobs, each counted once$/i);
    },
  );
});
