/**
 * `docker search` over --upstream reads registry:2's catalog up to a bound (50,000 names in
 * production; 3 here): the names within it are searched like the embedded core's, those after it
 * are not, and a push noted after the bound does not appear only to vanish at the next read.
 * Real registry:2 with images pushed by skopeo; the gateway's search answered over HTTP.
 */
import http from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import { createUpstreamBackend } from '../../src/backends/upstream.js';
import { createSearchIndex } from '../../src/gateway/search.js';
import { makeOciImage } from '../helpers/oci-image.js';
import { fetchInsecure, removeDir, skopeo, startRegistry2, tempDir } from '../helpers/processes.js';

t.test('registry:2 upstream: the search reads the first names of the catalog only', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const registry = await startRegistry2();
  t.teardown(() => registry.stop());
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [512] });
  const repos = ['app/one', 'app/three', 'app/two', 'lib/four', 'lib/five'];
  for (const repo of repos)
    await skopeo([
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${registry.port}/${repo}:v1`,
    ]);

  const backend = createUpstreamBackend({
    urls: [new URL(registry.url)],
    balance: 'round-robin',
    healthIntervalMs: 0,
    idleTimeoutMs: 60_000,
    logger: pino({ level: 'silent' }),
    maxSearchNames: 3,
  });
  t.teardown(() => backend.close());
  const index = createSearchIndex(backend);
  const server = http.createServer((req, res) => void index.search(req, res, (names) => names));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const search = async (q: string) => {
    const r = await fetchInsecure(`${base}/v1/search?q=${encodeURIComponent(q)}&n=25`);
    t.equal(r.status, 200, `search "${q}" answers 200`);
    return (JSON.parse(r.body) as { results: { name: string; description: string }[] }).results;
  };

  // registry:2 lists in byte order: app/one, app/three, app/two | lib/five, lib/four.
  t.same(
    (await search('')).map((r) => r.name),
    ['app/one', 'app/three', 'app/two'],
    'the first three names of the catalog',
  );
  t.same(await search('lib'), [], 'names after the bound are not found');
  t.same(
    await search('three'),
    [{ name: 'app/three', description: 'tags: v1', star_count: 0, is_official: false, is_automated: false }],
    'a match within the bound, described by its tags (one tags/list page)',
  );

  index.pushed('app/alpha'); // sorts before the bound: found at once
  index.pushed('app/zero'); // after it: would vanish at the next read, so not shown at all
  t.same(
    (await search('')).map((r) => r.name),
    ['app/alpha', 'app/one', 'app/three', 'app/two'],
    'a noted push before the bound is found, one after it is not',
  );
});
