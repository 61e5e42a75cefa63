/**
 * `GET /v2/_portcullis/usage?q=<text>`: the repositories whose name contains the text anywhere,
 * in catalog order, paged with n/last/Link like the listing, on the whole store (not a page of
 * it), on the filesystem and on a real Swift (s3api); new repositories are found by the next search, those created by another process sharing
 * the storage once the names are read again; and on a store written before the catalog index
 * existed, pages scan a bounded slice of the walk and the Link goes on from where they stopped.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FilesystemStorage } from '../../src/registry/index.js';
import { RepositoryStore } from '../../src/registry/repository.js';
import { RepositorySearch } from '../../src/registry/repository-search.js';
import { startSwift, swiftMissing } from '../helpers/swift.js';
import { http, pushBlob, removeDir, startCore, tempDir, type Harness } from './fixtures/harness.js';

const NAMES = [
  'api',
  'apis/gateway',
  'billing',
  'team/billing-api',
  'team/billing-web',
  'team/rapid',
  'tools/api-docs',
  'web/capi.v2',
  'zz/last-api',
];
const withApi = NAMES.filter((n) => n.includes('api'));

/** Follow the Link of a search from `path`; every page, as [names, link]. */
async function pages(base: string, path: string): Promise<[string[], string | undefined][]> {
  const out: [string[], string | undefined][] = [];
  let next: string | undefined = path;
  while (next) {
    const r = await http(base, next);
    if (r.status !== 200) throw new Error(`${next}: ${r.status} ${r.text}`);
    const link = r.headers.link as string | undefined;
    out.push([r.json().repositories.map((x: { name: string }) => x.name), link]);
    next = link ? /<([^>]+)>/.exec(link)![1] : undefined;
    if (out.length > 1000) throw new Error('the Link never ends');
  }
  return out;
}
const names = (p: [string[], string | undefined][]) => p.flatMap(([n]) => n);

async function searches(t: Test, h: Harness): Promise<void> {
  for (const name of NAMES) await pushBlob(h.url, name, `content of ${name}`);

  const all = await pages(h.url, '/v2/_portcullis/usage?q=api');
  t.same(all, [[withApi, undefined]], 'one page: every name containing "api", in catalog order, no Link');
  const first = await http(h.url, '/v2/_portcullis/usage?q=api');
  t.match(first.json().repositories[0], { name: 'api', tags: 0, bytes: Number }, 'each with its figures');

  const paged = await pages(h.url, '/v2/_portcullis/usage?n=2&q=api');
  t.same(names(paged), withApi, 'pages of two add up to the same names');
  t.same(
    paged.map(([, link]) => link),
    [
      '</v2/_portcullis/usage?n=2&q=api&last=apis%2Fgateway>; rel="next"',
      '</v2/_portcullis/usage?n=2&q=api&last=team%2Frapid>; rel="next"',
      '</v2/_portcullis/usage?n=2&q=api&last=web%2Fcapi.v2>; rel="next"',
      undefined,
    ],
    'the Link keeps the text and goes on after the last name',
  );
  t.same(
    await pages(h.url, `/v2/_portcullis/usage?n=${withApi.length}&q=api`),
    [[withApi, undefined]],
    'a page that holds the last match has no Link (no empty page after it)',
  );
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=api&last=team%2Fbilling-web')), [
    'team/rapid',
    'tools/api-docs',
    'web/capi.v2',
    'zz/last-api',
  ]);
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=API')), withApi, 'upper case finds the lower-case names');
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=%2Fb')), ['team/billing-api', 'team/billing-web']);
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=a%0Ap')), [], 'a newline matches nothing');
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=%E2%9C%93')), [], 'nor does a character no name holds');
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=')), NAMES, 'an empty text is the plain listing');
  t.same((await http(h.url, '/v2/_portcullis/usage?q=api&n=0')).json().repositories, []);

  await pushBlob(h.url, 'new/rapids', 'x');
  t.same(
    names(await pages(h.url, '/v2/_portcullis/usage?q=apid')),
    ['new/rapids', 'team/rapid'],
    'a repository created since the last search is found',
  );
}

t.test('names containing the text, anywhere, paged like the listing (filesystem)', async (t) => {
  const h = await startCore();
  t.teardown(() => h.close());
  await searches(t, h);
});

const missing = swiftMissing();
t.test('the same on S3 storage (Swift s3api)', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const swift = await startSwift();
  t.teardown(() => swift.stop());
  const bucket = await swift.createBucket();
  const s3 = swift.s3;
  const h = await startCore({ storage: `s3://${bucket}/reg`, s3 });
  t.teardown(() => h.close());
  await searches(t, h);
});

t.test('repositories created by another process show once the names are read again', async (t) => {
  const dir = await tempDir('portcullis-search-');
  t.teardown(() => removeDir(dir));
  const a = new RepositoryStore(new FilesystemStorage(dir));
  const b = new RepositoryStore(new FilesystemStorage(dir));
  await a.index.note('one/api');
  t.ok(await a.index.built());
  const search = new RepositorySearch(a.index, 0); // read again at every search
  t.same((await search.page('api', undefined, 10)).names, ['one/api']);
  await b.index.note('two/api'); // the other process: this one is not told
  let seen: string[] = [];
  for (let i = 0; i < 100 && seen.length < 2; i++) {
    seen = (await search.page('api', undefined, 10)).names;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.same(seen, ['one/api', 'two/api']);
});

t.test('the names are let go when nobody searches, and read again by the next search', async (t) => {
  const dir = await tempDir('portcullis-search-idle-');
  t.teardown(() => removeDir(dir));
  const store = new RepositoryStore(new FilesystemStorage(dir));
  await store.index.note('one/api');
  t.ok(await store.index.built());
  const search = new RepositorySearch(store.index, 15_000, 50);
  t.notOk(search.holdsNames, 'nothing held before the first search');
  t.same((await search.page('api', undefined, 10)).names, ['one/api']);
  t.ok(search.holdsNames, 'held after it');
  for (let i = 0; i < 100 && search.holdsNames; i++) await new Promise((r) => setTimeout(r, 20));
  t.notOk(search.holdsNames, 'let go after the idle time');
  await store.index.note('two/api');
  t.same((await search.page('api', undefined, 10)).names, ['one/api', 'two/api'], 'read again, with what came since');
});

t.test('a store written before the index: bounded pages, the Link goes on where the scan stopped', async (t) => {
  const dir = await tempDir('portcullis-search-old-');
  t.teardown(() => removeDir(dir));
  // 2,500 repositories written directly (no index), one in 500 with "needle" in its name.
  const repos = Array.from(
    { length: 2500 },
    (_, i) => `r${String(i).padStart(4, '0')}${i % 500 === 7 ? '-needle' : ''}`,
  );
  for (let i = 0; i < repos.length; i += 100)
    await Promise.all(
      repos
        .slice(i, i + 100)
        .map((n) => mkdir(join(dir, 'meta', 'repositories', n, '_manifests', 'tags'), { recursive: true })),
    );
  const h = await startCore({ storage: dir });
  t.teardown(() => h.close());
  t.notOk(await h.core.repos.index.isComplete(), 'not indexed yet');
  const first = await http(h.url, '/v2/_portcullis/usage?q=needle&n=100');
  t.same(
    first.json().repositories.map((x: { name: string }) => x.name),
    ['r0007-needle', 'r0507-needle'],
    'the first page holds the matches among the first names scanned',
  );
  t.equal(
    first.headers.link,
    '</v2/_portcullis/usage?n=100&q=needle&last=r0999>; rel="next"',
    'and goes on after the last name scanned',
  );
  const expected = repos.filter((n) => n.includes('needle'));
  const rest = await pages(h.url, '/v2/_portcullis/usage?q=needle&n=100&last=r0999');
  t.same(['r0007-needle', 'r0507-needle', ...names(rest)], expected, 'following the Link finds every match once');
  t.ok(await h.core.repos.index.built(), 'the index is built meanwhile');
  t.same(names(await pages(h.url, '/v2/_portcullis/usage?q=needle')), expected, 'then one page finds them all');
});
