/**
 * GET /v2/<name>/_portcullis/usage/tags: each tag's digest, last push and last pull follow real
 * pushes and pulls made with a clock the test controls; HEADs and the repository browser's reads
 * (X-Portcullis-Browse) are not pulls; it pages like tags/list; and a page of 50 out of 10,000
 * tags reads 50 tag documents, not 10,000.
 */
import t from 'tap';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BROWSE_HEADER } from '../../src/oci/browse-header.js';
import { removeDir, tempDir } from '../helpers/processes.js';
import { http, imageParts, putManifest, startCore } from './fixtures/harness.js';

const iso = (ms: number) => new Date(ms).toISOString();
type TagTimes = { tag: string; digest: string; lastPushed: string | null; lastPulled: string | null };
const byTag = (tags: TagTimes[]) => Object.fromEntries(tags.map((x) => [x.tag, x]));

t.test('per-tag push and pull times follow pushes and pulls', async (t) => {
  const dir = await tempDir('portcullis-tag-usage-');
  t.teardown(() => removeDir(dir));
  let clock = Date.UTC(2026, 5, 1);
  const h = await startCore({ storage: dir, now: () => clock, usageFlushIntervalMs: 3_600_000 });
  t.teardown(() => h.close());
  const list = async (query = '') => {
    const r = await http(h.url, `/v2/app/_portcullis/usage/tags${query}`);
    t.equal(r.status, 200, `usage/tags${query}`);
    return { body: r.json() as { name: string; tags: TagTimes[] }, link: r.headers.link };
  };

  const one = await imageParts(h.url, 'app', { seed: 'one' });
  const two = await imageParts(h.url, 'app', { seed: 'two' });
  const v1 = await putManifest(h.url, 'app', 'v1', one.manifest);
  const v1At = clock;
  clock += 60_000;
  const v2 = await putManifest(h.url, 'app', 'v2', two.manifest);
  const v2At = clock;
  clock += 60_000;
  await putManifest(h.url, 'app', 'latest', one.manifest); // same manifest as v1, a tag of its own
  const latestAt = clock;

  let { body } = await list();
  t.equal(body.name, 'app');
  t.same(
    body.tags,
    [
      { tag: 'latest', digest: v1.digest, lastPushed: iso(latestAt), lastPulled: null },
      { tag: 'v1', digest: v1.digest, lastPushed: iso(v1At), lastPulled: null },
      { tag: 'v2', digest: v2.digest, lastPushed: iso(v2At), lastPulled: null },
    ],
    'every tag in tags/list order with the time its push set it, none pulled yet',
  );

  clock += 86_400_000;
  t.equal((await http(h.url, '/v2/app/manifests/v1')).status, 200);
  const pulledAt = clock;
  clock += 3_600_000;
  t.equal((await http(h.url, '/v2/app/manifests/v2', { method: 'HEAD' })).status, 200);
  t.equal((await http(h.url, '/v2/app/manifests/v2', { headers: { [BROWSE_HEADER]: '1' } })).status, 200);
  t.equal((await http(h.url, `/v2/app/manifests/${v2.digest}`, { headers: { [BROWSE_HEADER]: '1' } })).status, 200);
  ({ body } = await list());
  let tags = byTag(body.tags);
  t.equal(tags.v1!.lastPulled, iso(pulledAt), 'a GET of v1 is its last pull');
  t.equal(tags.latest!.lastPulled, iso(pulledAt), 'a tag of the same manifest was pulled with it');
  t.equal(tags.v2!.lastPulled, null, 'a HEAD and the browser reading v2 are not pulls');

  // Pushing v2 again moves its push time; pulling it by digest is a pull of the tag.
  clock += 60_000;
  await putManifest(h.url, 'app', 'v2', two.manifest);
  const repushedAt = clock;
  clock += 60_000;
  t.equal((await http(h.url, `/v2/app/manifests/${v2.digest}`)).status, 200);
  ({ body } = await list());
  tags = byTag(body.tags);
  t.same(tags.v2, { tag: 'v2', digest: v2.digest, lastPushed: iso(repushedAt), lastPulled: iso(clock) });
  t.equal(tags.v1!.lastPushed, iso(v1At), 'other tags keep their push time');

  // Pages: n, last and Link exactly like tags/list.
  const first = await list('?n=2');
  t.same(
    first.body.tags.map((x) => x.tag),
    ['latest', 'v1'],
  );
  t.equal(first.link, '</v2/app/_portcullis/usage/tags?n=2&last=v1>; rel="next"');
  const second = await list('?n=2&last=v1');
  t.same(
    second.body.tags.map((x) => x.tag),
    ['v2'],
  );
  t.equal(second.link, undefined, 'no Link on the last page');
  t.same((await list('?n=0')).body.tags, [], 'n=0: an empty page');

  // The times survive a restart (flushed on close).
  await h.close();
  const again = await startCore({ storage: dir, now: () => clock });
  t.teardown(() => again.close());
  const after = byTag((await http(again.url, '/v2/app/_portcullis/usage/tags')).json().tags);
  t.equal(after.v1!.lastPulled, iso(pulledAt), 'pull time after a restart');
  t.equal(after.v2!.lastPushed, iso(repushedAt), 'push time after a restart');

  const unknown = await http(again.url, '/v2/nothing/here/_portcullis/usage/tags');
  t.equal(unknown.status, 404);
  t.equal(unknown.json().errors[0].code, 'NAME_UNKNOWN');
  t.equal(
    (await http(again.url, '/v2/app/_portcullis/usage/tags?n=x')).json().errors[0].code,
    'PAGINATION_NUMBER_INVALID',
  );
  t.equal((await http(again.url, '/v2/app/_portcullis/usage/tags', { method: 'DELETE' })).status, 405);
});

t.test('a page of 50 out of 10,000 tags reads 50 tag documents', async (t) => {
  const dir = await tempDir('portcullis-tag-usage-big-');
  t.teardown(() => removeDir(dir));
  const h = await startCore({ storage: dir });
  t.teardown(() => h.close());
  const { manifest } = await imageParts(h.url, 'big');
  const pushed = await putManifest(h.url, 'big', 't00000', manifest);
  // The other 9,999 tags written as the core writes them (a PUT each would only slow the test).
  const tagDir = join(dir, 'meta', 'repositories', 'big', '_manifests', 'tags');
  await mkdir(tagDir, { recursive: true });
  const old = Date.UTC(2025, 0, 1);
  for (let i = 1; i < 10_000; i++) {
    const tag = `t${String(i).padStart(5, '0')}`;
    // t05000 is a tag written before push times were recorded: its file's mtime says when.
    const doc = i === 5000 ? { digest: pushed.digest } : { digest: pushed.digest, pushedAt: old + i };
    await writeFile(join(tagDir, tag), JSON.stringify(doc));
  }
  await utimes(join(tagDir, 't05000'), new Date(old), new Date(old));

  const storage = h.core.repos.storage;
  const readMeta = storage.readMeta.bind(storage);
  const tagReads: string[] = [];
  storage.readMeta = (key) => {
    if (key.includes('/_manifests/tags/')) tagReads.push(key);
    return readMeta(key);
  };
  const r = await http(h.url, '/v2/big/_portcullis/usage/tags?n=50&last=t04990');
  t.equal(r.status, 200);
  const tags = r.json().tags as TagTimes[];
  t.same(
    tags.map((x) => x.tag),
    Array.from({ length: 50 }, (_, i) => `t${String(4991 + i).padStart(5, '0')}`),
    'the 50 tags after last',
  );
  t.equal(tagReads.length, 50, 'one tag document read per tag on the page, not one per tag in the repository');
  t.equal(r.headers.link, '</v2/big/_portcullis/usage/tags?n=50&last=t05040>; rel="next"');
  t.equal(byTag(tags).t05000!.lastPushed, iso(old), 'no recorded push time: when the tag document was written');
  t.equal(byTag(tags).t04991!.lastPushed, iso(old + 4991));
});
