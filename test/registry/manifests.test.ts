/** distribution-spec "Pulling manifests", "Pushing Manifests", "Deleting tags/Manifests". */
import t from 'tap';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  http,
  imageParts,
  putManifest,
  sha256,
  sha512,
  startCore,
} from './fixtures/harness.js';

const h = await startCore();
t.teardown(h.close);

t.test(
  'PUT manifest by tag: 201, Location by digest, Docker-Content-Digest; GET and HEAD by tag and digest',
  async (t) => {
    const { manifest } = await imageParts(h.url, 'man/a');
    const put = await putManifest(h.url, 'man/a', 'v1', manifest);
    t.equal(put.status, 201);
    t.equal(put.headers.location, `/v2/man/a/manifests/${put.digest}`);
    t.equal(put.headers['docker-content-digest'], put.digest);
    const body = Buffer.from(JSON.stringify(manifest));
    for (const ref of ['v1', put.digest]) {
      const get = await http(h.url, `/v2/man/a/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      t.equal(get.status, 200);
      t.ok(get.body.equals(body), 'byte-for-byte as pushed');
      t.equal(get.headers['content-type'], OCI_MANIFEST);
      t.equal(get.headers['docker-content-digest'], put.digest);
      const head = await http(h.url, `/v2/man/a/manifests/${ref}`, { method: 'HEAD' });
      t.equal(head.status, 200);
      t.equal(head.headers['content-length'], String(body.length), 'HEAD carries Content-Length (pitfall #14)');
      t.equal(head.headers['docker-content-digest'], put.digest);
      t.equal(head.headers['content-type'], OCI_MANIFEST);
      t.equal(head.body.length, 0);
    }
  },
);

t.test('Content-Type is returned for every manifest media type', async (t) => {
  const oci = await imageParts(h.url, 'types/x', { seed: 'o' });
  const docker = await imageParts(h.url, 'types/x', { mediaType: DOCKER_MANIFEST, seed: 'd' });
  const p1 = await putManifest(h.url, 'types/x', 'oci', oci.manifest);
  const p2 = await putManifest(h.url, 'types/x', 'docker', docker.manifest);
  const child = (p: { digest: string }, mediaType: string, size: number) => ({
    mediaType,
    digest: p.digest,
    size,
    platform: { architecture: 'amd64', os: 'linux' },
  });
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [child(p1, OCI_MANIFEST, JSON.stringify(oci.manifest).length)],
  };
  const list = {
    schemaVersion: 2,
    mediaType: DOCKER_LIST,
    manifests: [child(p2, DOCKER_MANIFEST, JSON.stringify(docker.manifest).length)],
  };
  const p3 = await putManifest(h.url, 'types/x', 'index', index);
  const p4 = await putManifest(h.url, 'types/x', 'list', list);
  for (const [tag, type, p] of [
    ['oci', OCI_MANIFEST, p1],
    ['docker', DOCKER_MANIFEST, p2],
    ['index', OCI_INDEX, p3],
    ['list', DOCKER_LIST, p4],
  ] as const) {
    t.equal(p.status, 201, `${tag} pushed`);
    const r = await http(h.url, `/v2/types/x/manifests/${tag}`);
    t.equal(r.headers['content-type'], type, `${tag} served as ${type}`);
  }
});

t.test('an OCI manifest without mediaType is accepted with its Content-Type', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/nomt');
  delete manifest.mediaType;
  const put = await putManifest(h.url, 'man/nomt', 'x', manifest, OCI_MANIFEST);
  t.equal(put.status, 201);
  t.equal((await http(h.url, '/v2/man/nomt/manifests/x')).headers['content-type'], OCI_MANIFEST);
});

t.test('PUT by digest works and a wrong digest reference is DIGEST_INVALID', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/bydigest');
  const body = JSON.stringify(manifest);
  const ok = await putManifest(h.url, 'man/bydigest', sha256(body), manifest);
  t.equal(ok.status, 201);
  t.equal((await http(h.url, '/v2/man/bydigest/tags/list')).json().tags.length, 0, 'no tag created');
  const bad = await putManifest(h.url, 'man/bydigest', sha256('x'), manifest);
  t.equal(bad.status, 400);
  t.equal(bad.json().errors[0].code, 'DIGEST_INVALID');
  const s512 = await putManifest(h.url, 'man/bydigest', sha512(body), manifest);
  t.equal(s512.status, 201);
  t.equal(s512.headers['docker-content-digest'], sha512(body));
  t.equal((await http(h.url, `/v2/man/bydigest/manifests/${sha512(body)}`)).status, 200);
});

t.test('schema 1 manifests are rejected with MANIFEST_INVALID', async (t) => {
  const v1 = { schemaVersion: 1, name: 'man/s1', tag: 'x', architecture: 'amd64', fsLayers: [], history: [] };
  const r = await putManifest(h.url, 'man/s1', 'x', v1, 'application/vnd.docker.distribution.manifest.v1+prettyjws');
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'MANIFEST_INVALID');
  t.match(r.json().errors[0].message, /schema 1/);
});

t.test('invalid manifests are MANIFEST_INVALID', async (t) => {
  const notJson = await http(h.url, '/v2/man/bad/manifests/x', {
    method: 'PUT',
    body: '{nope',
    headers: { 'content-type': OCI_MANIFEST },
  });
  t.equal(notJson.json().errors[0].code, 'MANIFEST_INVALID');
  const noConfig = await putManifest(h.url, 'man/bad', 'x', { schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] });
  t.equal(noConfig.json().errors[0].code, 'MANIFEST_INVALID');
  const mismatch = await putManifest(
    h.url,
    'man/bad',
    'x',
    { schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] },
    OCI_INDEX,
  );
  t.equal(mismatch.status, 400);
  const badTag = await putManifest(h.url, 'man/bad', '-tag', { schemaVersion: 2 });
  t.equal(badTag.status, 400);
  t.equal(badTag.json().errors[0].code, 'TAG_INVALID');
});

t.test('a manifest referencing missing blobs is MANIFEST_BLOB_UNKNOWN', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/missing');
  const missing = sha256('never pushed');
  (manifest.layers as unknown[]).push({
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    digest: missing,
    size: 12,
  });
  const r = await putManifest(h.url, 'man/missing', 'x', manifest);
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
  t.same(r.json().errors[0].detail.missing, [missing]);
  t.equal((await http(h.url, '/v2/man/missing/manifests/x')).status, 404, 'nothing tagged');
});

t.test('blobs of another repository do not satisfy a manifest (mount them first)', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/elsewhere');
  const r = await putManifest(h.url, 'man/here', 'x', manifest);
  t.equal(r.json().errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
});

t.test('an index referencing a missing child manifest is MANIFEST_BLOB_UNKNOWN', async (t) => {
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('no child'), size: 8 }],
  };
  const r = await putManifest(h.url, 'man/index', 'x', index);
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
});

t.test('a manifest over 4 MiB is 413 with a JSON error', async (t) => {
  const big = { schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { pad: 'x'.repeat(4 << 20) } };
  const r = await putManifest(h.url, 'man/big', 'x', big);
  t.equal(r.status, 413);
  t.match(r.headers['content-type'], /application\/json/);
  t.equal(r.json().errors[0].code, 'MANIFEST_INVALID');
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
});

t.test('a manifest with subject is accepted before its subject exists and returns OCI-Subject', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/subj');
  const subject = { mediaType: OCI_MANIFEST, digest: sha256('future subject'), size: 14 };
  const r = await putManifest(h.url, 'man/subj', sha256(JSON.stringify({ ...manifest, subject })), {
    ...manifest,
    subject,
  });
  t.equal(r.status, 201);
  t.equal(r.headers['oci-subject'], subject.digest);
});

t.test('unknown manifests: MANIFEST_UNKNOWN in a known repository, NAME_UNKNOWN otherwise', async (t) => {
  const r = await http(h.url, '/v2/man/a/manifests/nope');
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'MANIFEST_UNKNOWN');
  const d = await http(h.url, `/v2/man/a/manifests/${sha256('nope')}`, { method: 'HEAD' });
  t.equal(d.status, 404);
  const n = await http(h.url, '/v2/no/such/repo/manifests/latest');
  t.equal(n.json().errors[0].code, 'NAME_UNKNOWN');
});

t.test('DELETE by tag removes only the tag; the manifest stays by digest', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/del');
  const put = await putManifest(h.url, 'man/del', 'one', manifest);
  await putManifest(h.url, 'man/del', 'two', manifest);
  const del = await http(h.url, '/v2/man/del/manifests/one', { method: 'DELETE' });
  t.equal(del.status, 202);
  t.equal((await http(h.url, '/v2/man/del/manifests/one')).status, 404);
  t.equal((await http(h.url, '/v2/man/del/manifests/two')).status, 200);
  t.equal((await http(h.url, `/v2/man/del/manifests/${put.digest}`)).status, 200);
  t.equal((await http(h.url, '/v2/man/del/manifests/one', { method: 'DELETE' })).status, 404);
});

t.test('DELETE by digest removes the manifest and every tag pointing at it', async (t) => {
  const { manifest } = await imageParts(h.url, 'man/deld');
  const put = await putManifest(h.url, 'man/deld', 'a', manifest);
  await putManifest(h.url, 'man/deld', 'b', manifest);
  const del = await http(h.url, `/v2/man/deld/manifests/${put.digest}`, { method: 'DELETE' });
  t.equal(del.status, 202);
  for (const ref of ['a', 'b', put.digest])
    t.equal((await http(h.url, `/v2/man/deld/manifests/${ref}`)).status, 404, ref);
  t.same((await http(h.url, '/v2/man/deld/tags/list')).json().tags, []);
  const again = await http(h.url, `/v2/man/deld/manifests/${put.digest}`, { method: 'DELETE' });
  t.equal(again.status, 404);
  t.equal(again.json().errors[0].code, 'MANIFEST_UNKNOWN');
});

t.test('re-tagging moves the tag to the new manifest', async (t) => {
  const a = await imageParts(h.url, 'man/retag', { seed: 'a' });
  const b = await imageParts(h.url, 'man/retag', { seed: 'b' });
  await putManifest(h.url, 'man/retag', 'latest', a.manifest);
  const pb = await putManifest(h.url, 'man/retag', 'latest', b.manifest);
  t.equal(
    (await http(h.url, '/v2/man/retag/manifests/latest', { method: 'HEAD' })).headers['docker-content-digest'],
    pb.digest,
  );
});
