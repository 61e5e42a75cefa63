/** distribution-spec "Listing Tags" (n, last, Link), "_catalog", "Listing Referrers" (artifactType filter). */
import t from 'tap';
import { OCI_INDEX, OCI_MANIFEST, http, imageParts, putManifest, sha256, startCore } from './fixtures/harness.js';

const h = await startCore();
t.teardown(h.close);

const { manifest } = await imageParts(h.url, 'disc/tags');
const tags = ['b', 'a', 'C', '1.0', 'latest', 'z_last', '0'];
for (const tag of tags) await putManifest(h.url, 'disc/tags', tag, manifest);
const sorted = [...tags].sort();

t.test('tags list is complete and in lexical order', async (t) => {
  const r = await http(h.url, '/v2/disc/tags/tags/list');
  t.equal(r.status, 200);
  t.same(r.json(), { name: 'disc/tags', tags: sorted });
  t.equal(r.headers.link, undefined);
});

t.test('n limits the page and Link points at the next one until the end', async (t) => {
  const seen: string[] = [];
  let path: string | undefined = '/v2/disc/tags/tags/list?n=3';
  let pages = 0;
  while (path) {
    const r = await http(h.url, path);
    t.equal(r.status, 200);
    const page = r.json().tags as string[];
    t.ok(page.length <= 3);
    seen.push(...page);
    const link = r.headers.link;
    path = link ? /^<([^>]+)>; rel="next"$/.exec(String(link))![1] : undefined;
    pages++;
  }
  t.same(seen, sorted);
  t.equal(pages, 3);
});

t.test('last returns tags after the given one; n=0 gives an empty list without Link', async (t) => {
  const r = await http(h.url, '/v2/disc/tags/tags/list?last=a');
  t.same(
    r.json().tags,
    sorted.filter((x) => x > 'a'),
  );
  const z = await http(h.url, '/v2/disc/tags/tags/list?n=0');
  t.same(z.json().tags, []);
  t.equal(z.headers.link, undefined);
  const exact = await http(h.url, `/v2/disc/tags/tags/list?n=${tags.length}`);
  t.equal(exact.json().tags.length, tags.length);
  t.equal(exact.headers.link, undefined, 'no Link when nothing is left');
  const bad = await http(h.url, '/v2/disc/tags/tags/list?n=-1');
  t.equal(bad.status, 400);
  t.equal(bad.json().errors[0].code, 'PAGINATION_NUMBER_INVALID');
});

t.test('tags list of an unknown repository is 404 NAME_UNKNOWN', async (t) => {
  const r = await http(h.url, '/v2/disc/none/tags/list');
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'NAME_UNKNOWN');
});

t.test('_catalog lists repositories in order with n/last/Link', async (t) => {
  for (const repo of ['disc/b', 'disc/a/nested', 'alpha']) await imageParts(h.url, repo);
  const all = (await http(h.url, '/v2/_catalog')).json().repositories as string[];
  t.same(all, ['alpha', 'disc/a/nested', 'disc/b', 'disc/tags']);
  const p1 = await http(h.url, '/v2/_catalog?n=2');
  t.same(p1.json().repositories, ['alpha', 'disc/a/nested']);
  t.equal(p1.headers.link, '</v2/_catalog?n=2&last=disc%2Fa%2Fnested>; rel="next"');
  const p2 = await http(h.url, /^<([^>]+)>/.exec(String(p1.headers.link))![1]!);
  t.same(p2.json().repositories, ['disc/b', 'disc/tags']);
  t.equal(p2.headers.link, undefined);
});

t.test('referrers: empty index (200) for a digest nobody refers to', async (t) => {
  const r = await http(h.url, `/v2/disc/tags/referrers/${sha256('nothing')}`);
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], OCI_INDEX);
  t.same(r.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  const bad = await http(h.url, '/v2/disc/tags/referrers/sha256:xyz');
  t.equal(bad.status, 400);
});

t.test(
  'referrers lists manifests with that subject, artifactType from manifest or config, annotations; filter applies',
  async (t) => {
    const subject = {
      mediaType: OCI_MANIFEST,
      digest: sha256(JSON.stringify(manifest)),
      size: JSON.stringify(manifest).length,
    };
    const sbom = await imageParts(h.url, 'disc/tags', { seed: 'sbom' });
    const sbomManifest = {
      ...sbom.manifest,
      artifactType: 'application/vnd.example.sbom',
      subject,
      annotations: { 'org.example': 'yes' },
    };
    const sig = await imageParts(h.url, 'disc/tags', {
      seed: 'sig',
      configMediaType: 'application/vnd.example.sig.config',
    });
    const sigManifest = { ...sig.manifest, subject };
    const idx = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject };
    const p1 = await putManifest(h.url, 'disc/tags', sha256(JSON.stringify(sbomManifest)), sbomManifest);
    const p2 = await putManifest(h.url, 'disc/tags', sha256(JSON.stringify(sigManifest)), sigManifest);
    const p3 = await putManifest(h.url, 'disc/tags', sha256(JSON.stringify(idx)), idx);
    t.equal(p1.headers['oci-subject'], subject.digest);
    const all = await http(h.url, `/v2/disc/tags/referrers/${subject.digest}`);
    const list = all.json().manifests as Array<Record<string, unknown>>;
    t.equal(list.length, 3);
    const byDigest = Object.fromEntries(list.map((m) => [m.digest, m]));
    t.same(byDigest[p1.digest], {
      mediaType: OCI_MANIFEST,
      digest: p1.digest,
      size: JSON.stringify(sbomManifest).length,
      artifactType: 'application/vnd.example.sbom',
      annotations: { 'org.example': 'yes' },
    });
    t.equal(
      byDigest[p2.digest].artifactType,
      'application/vnd.example.sig.config',
      'config mediaType when no artifactType',
    );
    t.notOk('artifactType' in byDigest[p3.digest], 'an index without artifactType has none');
    t.equal(all.headers['oci-filters-applied'], undefined);
    const filtered = await http(
      h.url,
      `/v2/disc/tags/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`,
    );
    t.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    t.same(
      filtered.json().manifests.map((m: { digest: string }) => m.digest),
      [p1.digest],
    );
    // deleting a referrer takes it out of the list
    await http(h.url, `/v2/disc/tags/manifests/${p2.digest}`, { method: 'DELETE' });
    const after = await http(h.url, `/v2/disc/tags/referrers/${subject.digest}`);
    t.equal(after.json().manifests.length, 2);
  },
);
