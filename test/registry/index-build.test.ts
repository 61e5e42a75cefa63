/**
 * A store written before the catalog index existed: the first catalog page is answered at once
 * by an ordered walk of the tree (not after indexing every repository), pages are exactly the
 * byte-ordered names whatever `last` is, and the index is built in the background meanwhile.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { FilesystemStorage } from '../../src/registry/index.js';
import { walkRepositoriesPage } from '../../src/registry/repository-walk.js';
import { http, removeDir, startCore, tempDir } from './fixtures/harness.js';

const byteSorted = (a: string[]) => [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

/** Names whose byte order differs from the tree's ('-' and '.' sort before '/'). */
const TRICKY = [
  'a',
  'a-b',
  'a.b',
  'a/b',
  'a/b/c',
  'a/b-c',
  'a/b.c/d',
  'a0',
  'a9',
  'a_b',
  'ab',
  'a-b/c',
  'a.b/c/d',
  'b',
  'b/a',
  'b-c',
  'b.c/x',
  'org/app', // org itself is no repository
  'org2/app-1',
  'org2/app.1',
  'org2/app/1',
  'org2/app1',
  'x1/y2/z3',
  'blobs-only',
];

async function writeRepos(root: string, names: string[], width = 64): Promise<void> {
  for (let i = 0; i < names.length; i += width) {
    await Promise.all(
      names.slice(i, i + width).map((n) =>
        mkdir(join(root, 'meta', 'repositories', n, n === 'blobs-only' ? '_blobs' : '_manifests', 'tags'), {
          recursive: true,
        }),
      ),
    );
  }
}

t.test('the ordered walk pages exactly like the sorted list, from any point', async (t) => {
  const dir = await tempDir('portcullis-walk-');
  t.teardown(() => removeDir(dir));
  await writeRepos(dir, TRICKY);
  const storage = new FilesystemStorage(dir);
  const sorted = byteSorted(TRICKY);
  let checked = 0;
  for (const after of [undefined, ...sorted, 'a-', 'a/', 'a/b/', 'a1', 'org', 'org2/app', '0', 'zzz']) {
    for (const limit of [1, 2, 3, 7, 1000]) {
      const want = sorted.filter((n) => after === undefined || n > after);
      const got = await walkRepositoriesPage(storage, after, limit);
      if (JSON.stringify(got) !== JSON.stringify({ names: want.slice(0, limit), more: want.length > limit })) {
        t.fail(`after ${after} limit ${limit}: ${JSON.stringify(got)}`);
      } else checked++;
    }
  }
  t.equal(checked, (sorted.length + 9) * 5, 'every page matches');
});

t.test('first catalog page on a large old store answers before the index is built', async (t) => {
  const dir = await tempDir('portcullis-oldstore-');
  t.teardown(() => removeDir(dir));
  const names = Array.from(
    { length: 3000 },
    (_, i) => `org${String(i % 30).padStart(2, '0')}/app-${String(i).padStart(5, '0')}`,
  ).concat(TRICKY);
  await writeRepos(dir, names);
  const sorted = byteSorted(names);
  const complete = join(dir, 'meta', '_index', 'repositories-complete');

  const h = await startCore({ storage: dir });
  t.teardown(() => h.close());
  const first = await http(h.url, '/v2/_catalog?n=100');
  t.notOk(existsSync(complete), 'answered while the index was still being built');
  t.same(first.json().repositories, sorted.slice(0, 100), 'the first page is right');
  t.equal(first.headers.link, `</v2/_catalog?n=100&last=${encodeURIComponent(sorted[99]!)}>; rel="next"`);
  const mid = await http(h.url, `/v2/_catalog?n=100&last=${encodeURIComponent(sorted[1500]!)}`);
  t.same(mid.json().repositories, sorted.slice(1501, 1601), 'a page from the middle is right');

  t.ok(await h.core.repos.index.built(), 'the background build completes');
  t.ok(existsSync(complete));
  const all = (await http(h.url, '/v2/_catalog')).json().repositories;
  t.same(all, sorted, 'the index lists the same repositories');
});
