/**
 * docker search on a private registry: /v1/_ping and /v1/search in the
 * Docker Hub v1 format, over registry:2 and over the embedded core (filesystem and a real Swift
 * bucket through s3api): names match anywhere, tags
 * do not (the description lists them), fresh pushes are found at once, `n` and `page` page the
 * matches, results are filtered by access rules even when a thousand hidden names come first.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { makeOciImage } from '../helpers/oci-image.js';
import { startSwift, swiftMissing, type Swift } from '../helpers/swift.js';
import {
  startRegistry2,
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
  execFileP,
} from '../helpers/processes.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

async function search(base: string, q: string, headers: Record<string, string> = {}) {
  const r = await fetchInsecure(`${base}/v1/search?q=${encodeURIComponent(q)}&n=25`, {
    headers: { 'x-docker-token': 'true', ...headers },
  });
  return { status: r.status, doc: JSON.parse(r.body) };
}

const LABEL = { upstream: 'registry:2', embedded: 'the embedded core', s3: 'the embedded core on a Swift bucket' };
for (const mode of ['upstream', 'embedded', 's3'] as const) {
  t.test(
    `search over ${LABEL[mode]}: names, pages, fresh pushes`,
    { skip: mode === 's3' ? (swiftMissing() ?? false) : false },
    async (t) => {
      const work = await tempDir();
      t.teardown(() => removeDir(work));
      const args: string[] = [];
      let swift: Swift | undefined;
      if (mode === 'upstream') {
        const registry = await startRegistry2();
        t.teardown(() => registry.stop());
        args.push('--upstream', registry.url);
      } else if (mode === 's3') {
        swift = await startSwift();
        t.teardown(() => swift!.stop());
        args.push('--storage', `s3://${await swift.createBucket()}/registry`, '--s3-endpoint', swift.endpoint);
      } else args.push('--storage', join(work, 'data'));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const gw = await startPortcullis([...args, '--listen', `127.0.0.1:${port}`], {
        probe: `${base}/_ping`,
        env: swift?.env,
      });
      t.teardown(() => gw.stop());

      const ping = await fetchInsecure(`${base}/v1/_ping`);
      t.equal(ping.status, 200);
      t.equal(ping.headers['x-docker-registry-standalone'], 'true', 'docker then sends credentials with search');

      const image = await makeOciImage(join(work, 'img'), { layerSizes: [1024] });
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${image.dir}:latest`,
        `docker://127.0.0.1:${port}/team/alpha:v1`,
      ]);
      t.same(
        (await search(base, 'alpha')).doc.results.map((r: { name: string }) => r.name),
        ['team/alpha'],
      );

      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${image.dir}:latest`,
        `docker://127.0.0.1:${port}/tools/beta:build-42`,
      ]);
      const beta = await search(base, 'beta');
      t.equal(beta.status, 200);
      t.same(
        beta.doc.results.map((r: { name: string }) => r.name),
        ['tools/beta'],
        'a push through the gateway is searchable at once',
      );
      t.match(beta.doc.results[0], {
        star_count: 0,
        is_official: false,
        is_automated: false,
        description: 'tags: build-42',
      });
      t.equal(beta.doc.num_results, 1);
      t.equal(beta.doc.query, 'beta');
      t.same((await search(base, 'build-42')).doc.results, [], 'tags do not match, names do');
      t.equal((await search(base, '')).doc.num_results, 2, 'an empty query lists everything');

      const page = async (p: number) => {
        const r = await fetchInsecure(`${base}/v1/search?q=&n=1&page=${p}`);
        return JSON.parse(r.body) as { results: { name: string }[]; num_pages: number; page: number };
      };
      t.match(await page(1), { results: [{ name: 'team/alpha' }], page: 1, num_pages: 2 }, 'n=1: page 1 of 2');
      t.match(await page(2), { results: [{ name: 'tools/beta' }], page: 2, num_pages: 2 }, 'page 2, the last');
      t.same((await page(3)).results, [], 'page 3 is empty');
    },
  );
}

t.test('search respects access rules and needs credentials when auth is on', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const htpasswd = join(work, 'h');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'pw-a']);
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, 'bob', 'pw-b']);
  const access = join(work, 'access.yaml');
  await writeFile(
    access,
    'rules:\n  - repository: "*"\n    users: [alice]\n    actions: ["*"]\n  - repository: "shared/*"\n    users: [bob]\n    actions: [pull]\n',
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--storage', join(work, 'data'), '--listen', `127.0.0.1:${port}`, '--htpasswd', htpasswd, '--access', access],
    { probe: `${base}/_ping` },
  );
  t.teardown(() => gw.stop());
  // 1,100 repositories bob may not pull, sorting before his: his page must still hold his.
  const hidden = Array.from({ length: 1100 }, (_, i) => `hidden/box-app-${String(i).padStart(4, '0')}`);
  const alice = basic('alice', 'pw-a');
  for (let i = 0; i < hidden.length; i += 16)
    await Promise.all(
      hidden.slice(i, i + 16).map(async (name) => {
        const blob = `blob of ${name}`;
        const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
        const r = await fetchInsecure(`${base}/v2/${name}/blobs/uploads/?digest=${digest}`, {
          method: 'POST',
          headers: { authorization: alice, 'content-type': 'application/octet-stream' },
          body: blob,
        });
        if (r.status !== 201) throw new Error(`push ${name}: ${r.status} ${r.body}`);
      }),
    );
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [1024] });
  for (const repo of ['shared/app', 'secret/app']) {
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:pw-a',
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${port}/${repo}:v1`,
    ]);
  }
  t.equal((await search(base, 'app')).status, 401, 'anonymous search is challenged');
  t.same(
    (await search(base, '/app', { authorization: basic('alice', 'pw-a') })).doc.results
      .map((r: { name: string }) => r.name)
      .sort(),
    ['secret/app', 'shared/app'],
  );
  t.equal(
    (await search(base, 'hidden', { authorization: alice })).doc.results.length,
    25,
    'alice may pull the hidden ones: a full page',
  );
  t.same(
    (await search(base, 'app', { authorization: basic('bob', 'pw-b') })).doc.results.map(
      (r: { name: string }) => r.name,
    ),
    ['shared/app'],
    'bob only finds what he may pull',
  );
});
