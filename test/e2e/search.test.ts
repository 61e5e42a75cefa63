/**
 * docker search on a private registry: /v1/_ping and /v1/search in the
 * Docker Hub v1 format, over registry:2 and over the embedded core, matching names and tags,
 * fresh pushes visible at once, results filtered by access rules.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { makeOciImage } from '../helpers/oci-image.js';
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

for (const mode of ['upstream', 'embedded'] as const) {
  t.test(
    `search over ${mode === 'upstream' ? 'registry:2' : 'the embedded core'}: names, tags, fresh pushes`,
    async (t) => {
      const work = await tempDir();
      t.teardown(() => removeDir(work));
      const args: string[] = [];
      if (mode === 'upstream') {
        const registry = await startRegistry2();
        t.teardown(() => registry.stop());
        args.push('--upstream', registry.url);
      } else args.push('--storage', join(work, 'data'));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const gw = await startPortcullis([...args, '--listen', `127.0.0.1:${port}`], { probe: `${base}/_ping` });
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
      const byTag = await search(base, 'build-42');
      t.equal(byTag.status, 200);
      t.same(
        byTag.doc.results.map((r: { name: string }) => r.name),
        ['tools/beta'],
        'a push is searchable at once, and tags match',
      );
      t.match(byTag.doc.results[0], {
        star_count: 0,
        is_official: false,
        is_automated: false,
        description: /build-42/,
      });
      t.equal(byTag.doc.num_results, 1);
      t.equal(byTag.doc.query, 'build-42');
      t.equal((await search(base, '')).doc.num_results, 2, 'an empty query lists everything');
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
    (await search(base, 'app', { authorization: basic('alice', 'pw-a') })).doc.results
      .map((r: { name: string }) => r.name)
      .sort(),
    ['secret/app', 'shared/app'],
  );
  t.same(
    (await search(base, 'app', { authorization: basic('bob', 'pw-b') })).doc.results.map(
      (r: { name: string }) => r.name,
    ),
    ['shared/app'],
    'bob only finds what he may pull',
  );
});
