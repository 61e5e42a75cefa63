/**
 * References that are neither a tag nor a digest: reads say "not found" (the conformance suite's
 * "HEAD/GET nonexistent manifest should return 404", with its `.INVALID_MANIFEST_NAME`), writes
 * say what is wrong with the request.
 */
import t from 'tap';
import { http, imageParts, OCI_MANIFEST, putManifest, startCore } from './fixtures/harness.js';

const h = await startCore();
t.teardown(h.close);

const { manifest } = await imageParts(h.url, 'refs/app');
const pushed = await putManifest(h.url, 'refs/app', 'v1', manifest, OCI_MANIFEST);
t.equal(pushed.status, 201, 'setup: an image is in the repository');

const INVALID = ['.INVALID_MANIFEST_NAME', '-lead', 'x'.repeat(129), 'sha256:abc', `md5:${'0'.repeat(32)}`];

t.test('GET of a manifest under an impossible reference is 404 MANIFEST_UNKNOWN', async (t) => {
  for (const ref of INVALID) {
    const r = await http(h.url, `/v2/refs/app/manifests/${ref}`);
    t.equal(r.status, 404, ref.slice(0, 40));
    t.equal(r.json().errors[0].code, 'MANIFEST_UNKNOWN');
    t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  }
});

t.test('HEAD of a manifest under an impossible reference is 404 without a body', async (t) => {
  for (const ref of INVALID) {
    const r = await http(h.url, `/v2/refs/app/manifests/${ref}`, { method: 'HEAD' });
    t.equal(r.status, 404, ref.slice(0, 40));
    t.equal(r.body.length, 0);
  }
});

t.test('in a repository that does not exist it is the repository that is unknown', async (t) => {
  const r = await http(h.url, '/v2/refs/none/manifests/.INVALID_MANIFEST_NAME');
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'NAME_UNKNOWN');
});

t.test('PUT with an invalid tag is 400 TAG_INVALID and stores nothing', async (t) => {
  const r = await putManifest(h.url, 'refs/app', '.INVALID_MANIFEST_NAME', manifest, OCI_MANIFEST);
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'TAG_INVALID');
  const tags = await http(h.url, '/v2/refs/app/tags/list');
  t.same(tags.json().tags, ['v1']);
});

t.test('PUT under a digest of an unsupported algorithm is 400 DIGEST_INVALID', async (t) => {
  const r = await putManifest(h.url, 'refs/app', `md5:${'0'.repeat(32)}`, manifest, OCI_MANIFEST);
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'DIGEST_INVALID');
});

t.test('DELETE of an invalid tag is 400 TAG_INVALID', async (t) => {
  const r = await http(h.url, '/v2/refs/app/manifests/.INVALID_MANIFEST_NAME', { method: 'DELETE' });
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'TAG_INVALID');
});

t.test('GET and HEAD of a blob under something that is not a digest are 404 BLOB_UNKNOWN', async (t) => {
  for (const ref of ['sha256:abc', `md5:${'0'.repeat(32)}`, `sha256:${'G'.repeat(64)}`, '.INVALID']) {
    const r = await http(h.url, `/v2/refs/app/blobs/${ref}`);
    t.equal(r.status, 404, ref);
    t.equal(r.json().errors[0].code, 'BLOB_UNKNOWN');
    const head = await http(h.url, `/v2/refs/app/blobs/${ref}`, { method: 'HEAD' });
    t.equal(head.status, 404, `HEAD ${ref}`);
  }
});

t.test('DELETE of a blob under something that is not a digest stays 400 DIGEST_INVALID', async (t) => {
  const r = await http(h.url, '/v2/refs/app/blobs/sha256:abc', { method: 'DELETE' });
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'DIGEST_INVALID');
});

t.test('referrers of an invalid digest stay 400: the spec requires it for that endpoint', async (t) => {
  const r = await http(h.url, '/v2/refs/app/referrers/sha256:abc');
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'DIGEST_INVALID');
});
