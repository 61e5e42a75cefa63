/**
 * Catalog and tag pages are read a page at a time, on the filesystem and on a real Swift
 * (s3api): the order is byte order of the names (also across '/', '-', '.', '_' and digits,
 * which the catalog index encodes), pages chain through Link to exactly the full list, a store
 * written before the index existed is indexed on first use, and what another instance on the
 * same storage pushes shows up at once.
 */
import t, { type Test } from 'tap';
import { rm } from 'node:fs/promises';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { decodeRepositoryName, encodeRepositoryName } from '../../src/registry/repository-index.js';
import { http, imageParts, putManifest, startCore, type Harness } from './fixtures/harness.js';
import { startSwift, swiftMissing } from '../helpers/swift.js';
import { removeDir, tempDir } from '../helpers/processes.js';

const NAMES = ['a', 'a-b', 'a.b', 'a/b', 'a/b/c', 'a0', 'a9', 'a_b', 'a__b', 'ab', 'b9/x', 'b/x', 'z0-9'];
const byteSorted = (xs: string[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

t.test('the index encoding keeps byte order and length and round-trips', async (t) => {
  const sorted = byteSorted(NAMES);
  const encoded = sorted.map(encodeRepositoryName);
  t.same(byteSorted(encoded), encoded, 'encoded names sort like the names');
  for (const n of NAMES) {
    t.equal(decodeRepositoryName(encodeRepositoryName(n)), n);
    t.equal(encodeRepositoryName(n).length, n.length);
    t.notOk(/[A-Z/]/.test(encodeRepositoryName(n)));
  }
});

async function walkPages(
  url: string,
  first: string,
  key: 'repositories' | 'tags',
): Promise<{ all: string[]; pages: number }> {
  const all: string[] = [];
  let path: string | undefined = first;
  let pages = 0;
  while (path) {
    const r = await http(url, path);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    all.push(...(r.json()[key] as string[]));
    path = r.headers.link ? /^<([^>]+)>; rel="next"$/.exec(String(r.headers.link))![1] : undefined;
    pages++;
  }
  return { all, pages };
}

async function exercise(
  t: Test,
  tagCount: number,
  open: () => Promise<Harness>,
  wipeIndex: (h: Harness) => Promise<void>,
) {
  const h = await open();
  const { manifest } = await imageParts(h.url, 'a');
  for (const name of NAMES) {
    const parts = await imageParts(h.url, name);
    const r = await putManifest(h.url, name, 'latest', parts.manifest);
    t.equal(r.status, 201, `push ${name}`);
  }
  const tags = Array.from({ length: tagCount }, (_, i) => `t${String(i).padStart(4, '0')}`).concat([
    'latest',
    'B',
    '_x',
    '1.0',
  ]);
  for (const tag of tags) await putManifest(h.url, 'a', tag, manifest);

  const full = await http(h.url, '/v2/_catalog');
  t.same(full.json().repositories, byteSorted(NAMES), 'catalog in byte order');
  const paged = await walkPages(h.url, '/v2/_catalog?n=4', 'repositories');
  t.same(paged.all, byteSorted(NAMES), 'pages chain to the full catalog');
  t.equal(paged.pages, Math.ceil(NAMES.length / 4));
  t.same((await http(h.url, '/v2/_catalog?n=3&last=a%2Fb')).json().repositories, ['a/b/c', 'a0', 'a9']);

  const pageSize = Math.ceil(tags.length / 3);
  const tagPages = await walkPages(h.url, `/v2/a/tags/list?n=${pageSize}`, 'tags');
  t.same(tagPages.all, byteSorted(tags), 'tag pages chain to every tag in byte order');
  t.equal(tagPages.pages, 3);
  const mid = await http(h.url, '/v2/a/tags/list?n=2&last=t0010');
  t.same(mid.json().tags, ['t0011', 't0012']);
  t.equal(mid.headers.link, '</v2/a/tags/list?n=2&last=t0012>; rel="next"');
  const lastTag = `t${String(tagCount - 1).padStart(4, '0')}`;
  const end = await http(h.url, `/v2/a/tags/list?n=5&last=t${String(tagCount - 2).padStart(4, '0')}`);
  t.same(end.json().tags, [lastTag]);
  t.equal(end.headers.link, undefined, 'no Link on the last page');

  // A tag pushed now is listed at once (a cached listing is never trusted across a change).
  await putManifest(h.url, 'a', 't0010x', manifest);
  t.same((await http(h.url, '/v2/a/tags/list?n=2&last=t0010')).json().tags, ['t0010x', 't0011']);

  // A second instance on the same storage sees a repository the first one creates, and the first sees its own.
  const other = await open();
  const extra = await imageParts(other.url, 'a/new');
  await putManifest(other.url, 'a/new', 'v1', extra.manifest);
  t.same((await http(h.url, '/v2/_catalog?n=2&last=a%2Fb%2Fc')).json().repositories, ['a/new', 'a0']);

  // A store written before the index existed: indexed by a walk on first use, same answer.
  await h.close();
  await other.close();
  await wipeIndex(h);
  const again = await open();
  t.teardown(() => again.close());
  t.same((await http(again.url, '/v2/_catalog')).json().repositories, byteSorted([...NAMES, 'a/new']));
}

t.test('filesystem storage', async (t) => {
  const dir = await tempDir('portcullis-pages-');
  t.teardown(() => removeDir(dir));
  await exercise(
    t,
    250,
    () => startCore({ storage: dir }),
    async () => rm(join(dir, 'meta', '_index'), { recursive: true, force: true }),
  );
});

const missing = swiftMissing();
t.test('S3 storage (Swift s3api)', { skip: missing ?? false, timeout: 280_000 }, async (t) => {
  const swift = await startSwift();
  t.teardown(() => swift.stop());
  const bucket = await swift.createBucket();
  const s3 = swift.s3;
  await exercise(
    t,
    24,
    () => startCore({ storage: `s3://${bucket}/reg`, s3 }),
    async () => {
      for (const k of await swift.listKeys(bucket, 'reg/meta/_index/')) {
        await swift.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k.key }));
      }
    },
  );
});
