/**
 * CORS for browser registry UIs with a real browser: Debian's headless Chromium,
 * driven by playwright-core. A page served from another origin (a plain HTTP server on another
 * loopback port) lists tags and fetches a manifest through portcullis with credentials (an
 * Authorization: Basic header set by the page's own script, which makes Chromium send a
 * preflight), and reads the Docker-Content-Digest response header. The same page served from an
 * origin that is not allowed is blocked by the browser. The preflight itself is checked at the
 * HTTP level too: answered 204 before authentication, with the configured max-age.
 */
import t from 'tap';
import http from 'node:http';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { makeOciImage } from '../helpers/oci-image.js';
import {
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
  execFileP,
  hasCommand,
} from '../helpers/processes.js';

const MANIFEST_ACCEPT =
  'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

/**
 * The registry UI: when loaded with ?registry=ORIGIN&repo=R&tag=T&user=U&password=P it lists
 * the repository's tags, fetches the manifest of the tag, and leaves what it saw (or the error)
 * in window.__result. Written as a real page script, not injected by the test.
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>registry ui</title></head>
<body><pre id="out">loading</pre>
<script>
(async () => {
  const p = new URLSearchParams(location.search);
  const registry = p.get('registry');
  const auth = 'Basic ' + btoa(p.get('user') + ':' + p.get('password'));
  const result = { errors: {} };
  const step = async (name, fn) => {
    try { result[name] = await fn(); } catch (e) { result.errors[name] = String((e && e.message) || e); }
  };
  // Without credentials the 401 must be readable, with its challenge. (With credentials:
  // 'include' and no Authorization, a Basic challenge makes Chromium wait for its login
  // prompt instead, as a browser does; UIs that show their own login form probe like this.)
  await step('anonymous', async () => {
    const r = await fetch(registry + '/v2/', { credentials: 'omit' });
    return { status: r.status, challenge: r.headers.get('WWW-Authenticate') };
  });
  await step('tags', async () => {
    const r = await fetch(registry + '/v2/' + p.get('repo') + '/tags/list', { credentials: 'include', headers: { Authorization: auth } });
    return { status: r.status, body: await r.json() };
  });
  await step('manifest', async () => {
    const r = await fetch(registry + '/v2/' + p.get('repo') + '/manifests/' + p.get('tag'), {
      method: 'GET', credentials: 'include',
      headers: { Authorization: auth, Accept: ${JSON.stringify(MANIFEST_ACCEPT)} },
    });
    return {
      status: r.status,
      digest: r.headers.get('Docker-Content-Digest'),
      contentType: r.headers.get('Content-Type'),
      apiVersion: r.headers.get('Docker-Distribution-Api-Version'),
      body: await r.json(),
    };
  });
  // Paging: a UI needs the Link header of a partial catalog.
  await step('catalog', async () => {
    const r = await fetch(registry + '/v2/_catalog?n=1', { credentials: 'include', headers: { Authorization: auth } });
    return { status: r.status, link: r.headers.get('Link'), body: await r.json() };
  });
  window.__result = result;
  document.getElementById('out').textContent = JSON.stringify(result, null, 2);
})();
</script></body></html>`;

/** A plain HTTP server on a loopback port that serves the UI page at every path. */
async function serveUi(): Promise<{ origin: string; close: () => Promise<void> }> {
  const port = await freePort();
  const server = http.createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const missing = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is not installed (Debian package chromium)`
  : !hasCommand('skopeo')
    ? 'skopeo is not installed'
    : !hasCommand('htpasswd')
      ? 'htpasswd (apache2-utils) is not installed'
      : undefined;

if (missing) {
  t.plan(0, missing);
} else {
  const work = await tempDir();
  t.teardown(() => removeDir(work));

  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'secret']);

  const ui = await serveUi();
  t.teardown(() => ui.close());
  const evil = await serveUi();
  t.teardown(() => evil.close());

  const port = await freePort();
  const registry = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    [
      '--listen',
      `127.0.0.1:${port}`,
      '--storage',
      join(work, 'data'),
      '--htpasswd',
      htpasswd,
      '--cors-origin',
      ui.origin,
      '--cors-max-age',
      '10m',
      '--log-format',
      'combined',
    ],
    { probe: `${registry}/_ping` },
  );
  t.teardown(() => gw.stop());

  // Push an image with skopeo first, under two repositories (two, so the catalog can page).
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [2048] });
  for (const ref of ['team/alpha:v1', 'team/zeta:v2']) {
    await skopeo([
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:secret',
      `oci:${image.dir}:${image.tag}`,
      `docker://127.0.0.1:${port}/${ref}`,
    ]);
  }
  const head = await fetchInsecure(`${registry}/v2/team/alpha/manifests/v1`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT, authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` },
  });
  t.equal(head.status, 200, 'the pushed manifest is there');
  const digest = head.headers['docker-content-digest'];
  t.equal(digest, image.manifest.digest, 'skopeo pushed the generated manifest unchanged');

  /** The access log from `from` on, once it holds `expect` (lines are written when responses close). */
  const logAfter = async (from: number, expect: string): Promise<string> => {
    for (let i = 0; i < 50 && !gw.output().slice(from).includes(expect); i++)
      await new Promise((r) => setTimeout(r, 100));
    return gw.output().slice(from);
  };

  t.test('preflight is answered 204 without credentials, only for the allowed origin', async (t) => {
    const preflight = (origin: string) =>
      fetchInsecure(`${registry}/v2/team/alpha/manifests/v1`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization,accept',
        },
      });
    const ok = await preflight(ui.origin);
    t.equal(ok.status, 204, 'preflight from the allowed origin: 204, no credentials needed');
    t.equal(ok.headers['access-control-allow-origin'], ui.origin, 'echoes the exact origin');
    t.equal(ok.headers['access-control-allow-credentials'], 'true', 'credentials allowed');
    t.match(ok.headers['access-control-allow-methods'], /\bGET\b/);
    t.match(ok.headers['access-control-allow-methods'], /\bDELETE\b/);
    t.match(
      String(ok.headers['access-control-allow-headers']).toLowerCase(),
      /authorization/,
      'Authorization may be sent',
    );
    t.equal(ok.headers['access-control-max-age'], '600', '--cors-max-age 10m -> 600 s');
    t.match(ok.headers.vary, /Origin/i, 'Vary: Origin');
    t.notOk(ok.headers['www-authenticate'], 'no challenge on a preflight');
    t.equal(ok.body, '', 'no body');

    const bad = await preflight(evil.origin);
    t.not(bad.status, 204, `preflight from another origin is not answered as CORS (${bad.status})`);
    t.notOk(bad.headers['access-control-allow-origin'], 'and carries no Access-Control-Allow-Origin');

    // An actual request from the allowed origin carries the CORS headers, the 401 included.
    const anon = await fetchInsecure(`${registry}/v2/`, { headers: { origin: ui.origin } });
    t.equal(anon.status, 401);
    t.equal(anon.headers['access-control-allow-origin'], ui.origin, 'a 401 is readable by the allowed origin');
    t.match(String(anon.headers['access-control-expose-headers']), /Docker-Content-Digest/);
    t.match(String(anon.headers['access-control-expose-headers']), /WWW-Authenticate/);
  });

  t.test('headless Chromium: a page from the allowed origin lists tags and fetches a manifest', async (t) => {
    const browser = await launchChromium({ timeoutMs: 120_000 });
    t.teardown(() => browser.close());
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(m.text()));
    const logFrom = gw.output().length;

    const q = new URLSearchParams({ registry, repo: 'team/alpha', tag: 'v1', user: 'alice', password: 'secret' });
    await page.goto(`${ui.origin}/ui.html?${q}`);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, {
      timeout: 60_000,
    });
    // biome-ignore lint/suspicious/noExplicitAny: the page's result object, checked field by field below
    const result = await page.evaluate(() => (window as unknown as { __result: Record<string, any> }).__result);
    t.same(
      result.errors,
      {},
      `no fetch failed in the page${Object.keys(result.errors).length ? ` (console: ${consoleLines.join(' | ')})` : ''}`,
    );

    t.equal(result.anonymous?.status, 401, 'without credentials the page reads a 401');
    t.match(result.anonymous?.challenge, /^Basic realm=/, 'and the exposed WWW-Authenticate challenge');

    t.equal(result.tags?.status, 200, 'tags/list with credentials: 200');
    t.same(result.tags?.body, { name: 'team/alpha', tags: ['v1'] }, 'the page got the tags');

    t.equal(result.manifest?.status, 200, 'manifest GET with credentials: 200');
    t.equal(result.manifest?.digest, digest, 'the page read the exposed Docker-Content-Digest header');
    t.equal(result.manifest?.contentType, 'application/vnd.oci.image.manifest.v1+json', 'content type of the manifest');
    t.equal(result.manifest?.apiVersion, 'registry/2.0', 'Docker-Distribution-Api-Version is exposed too');
    t.equal(result.manifest?.body?.schemaVersion, 2, 'the page got the manifest JSON');
    t.equal(result.manifest?.body?.config?.digest, image.config.digest, 'with the pushed config');
    t.same(
      result.manifest?.body?.layers?.map((l: { digest: string }) => l.digest),
      image.layers.map((l) => l.digest),
      'and the pushed layers',
    );

    t.equal(result.catalog?.status, 200, 'catalog page with credentials');
    t.same(result.catalog?.body, { repositories: ['team/alpha'] }, 'first page of one');
    t.match(
      result.catalog?.link,
      /<\/v2\/_catalog\?.*n=1.*>; rel="next"/,
      'the Link header for the next page is exposed',
    );

    // Chromium sent a preflight for each credentialed URL (Authorization is not a simple
    // header), and portcullis answered each 204; the access log shows them.
    const log = await logAfter(logFrom, '"GET /v2/_catalog?n=1 ');
    for (const path of ['/v2/team/alpha/tags/list', '/v2/team/alpha/manifests/v1', '/v2/_catalog?n=1']) {
      t.match(log, `"OPTIONS ${path} HTTP/1.1" 204`, `Chromium's preflight for ${path} was answered 204`);
      t.match(
        log,
        new RegExp(` alice \\[[^\\]]+\\] "GET ${path.replace(/[?]/g, '\\?')} HTTP/1.1" 200`),
        `then the GET ${path} ran as alice`,
      );
    }
    // Chromium's own preflights (its user agent): the earlier subtest's refused preflight may
    // still be reaching the log when this one starts, lines are written as responses close.
    t.notMatch(log, /"OPTIONS [^"]*" 401 \d+ "[^"]*" "Mozilla/, 'no preflight was challenged');
  });

  t.test('headless Chromium: a page from an origin that is not allowed is blocked', async (t) => {
    const browser = await launchChromium({ timeoutMs: 120_000 });
    t.teardown(() => browser.close());
    const page = await (await browser.newContext()).newPage();
    const logFrom = gw.output().length;
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(m.text()));
    const q = new URLSearchParams({ registry, repo: 'team/alpha', tag: 'v1', user: 'alice', password: 'secret' });
    await page.goto(`${evil.origin}/ui.html?${q}`);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, {
      timeout: 60_000,
    });
    // biome-ignore lint/suspicious/noExplicitAny: the page's result object, checked field by field below
    const result = await page.evaluate(() => (window as unknown as { __result: Record<string, any> }).__result);
    for (const step of ['anonymous', 'tags', 'manifest', 'catalog']) {
      t.match(result.errors[step], /Failed to fetch/, `${step}: the fetch rejects`);
      t.notOk(result[step], `${step}: the page got nothing`);
    }
    t.ok(
      consoleLines.some((l) => /blocked by CORS policy/.test(l)),
      'Chromium says it was blocked by CORS policy',
    );
    t.ok(
      consoleLines.some((l) => /preflight request doesn't pass access control check/.test(l)),
      'for the credentialed requests, by the preflight',
    );
    t.match(
      await logAfter(logFrom, '"OPTIONS /v2/team/alpha/tags/list '),
      /"OPTIONS \/v2\/team\/alpha\/tags\/list HTTP\/1\.1" (?!204)\d{3}/,
      'its preflight was not answered as CORS',
    );
  });
}
