/** distribution-spec "API Version Check", "Errors", repository name grammar, path safety. */
import t from 'tap';
import { http, startCore } from './fixtures/harness.js';

const h = await startCore();
t.teardown(h.close);

t.test('GET /v2/ answers 200 {} with Docker-Distribution-Api-Version (end-1)', async (t) => {
  const r = await http(h.url, '/v2/');
  t.equal(r.status, 200);
  t.same(r.json(), {});
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  t.match(r.headers['content-type'], /application\/json/);
  const bare = await http(h.url, '/v2');
  t.equal(bare.status, 200);
});

t.test('HEAD /v2/ answers 200 without a body', async (t) => {
  const r = await http(h.url, '/v2/', { method: 'HEAD' });
  t.equal(r.status, 200);
  t.equal(r.body.length, 0);
});

t.test('errors are the spec JSON shape and carry the API version header', async (t) => {
  const r = await http(h.url, '/v2/nothing/here/manifests/latest');
  t.equal(r.status, 404);
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  const body = r.json();
  t.ok(Array.isArray(body.errors));
  t.equal(body.errors[0].code, 'NAME_UNKNOWN');
  t.type(body.errors[0].message, 'string');
});

t.test('unknown endpoints under /v2 are 404 NOT_FOUND', async (t) => {
  const r = await http(h.url, '/v2/foo/bar/something/else');
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'NOT_FOUND');
});

t.test('repository names that break the spec grammar get 400 NAME_INVALID', async (t) => {
  for (const name of [
    'Upper/case',
    'a..b',
    'a/../b',
    '%2e%2e/x',
    'a%2fb',
    '-lead',
    'trail-',
    'a//b',
    '_x',
    'a'.repeat(256),
  ]) {
    const r = await http(h.url, `/v2/${name}/tags/list`);
    t.equal(r.status, 400, `${name.slice(0, 40)} rejected`);
    t.equal(r.json().errors[0].code, 'NAME_INVALID');
  }
  for (const name of ['a', 'a/b/c', 'a.b_c__d---e/f0', 'x'.repeat(255)]) {
    const r = await http(h.url, `/v2/${name}/tags/list`);
    t.equal(r.status, 404, `${name.slice(0, 40)} is a valid (unknown) name`);
    t.equal(r.json().errors[0].code, 'NAME_UNKNOWN');
  }
});

t.test('encoded dots and slashes in references never reach storage', async (t) => {
  // A read under such a reference is simply not found; a write is refused as malformed.
  for (const ref of ['..%2f..%2fetc', '%2e%2e', 'sha256:..%2f..']) {
    const r = await http(h.url, `/v2/repo/manifests/${ref}`);
    t.equal(r.status, 404, ref);
    const put = await http(h.url, `/v2/repo/manifests/${ref}`, { method: 'PUT', body: '{}' });
    t.equal(put.status, 400, `PUT ${ref}`);
  }
  const r = await http(h.url, '/v2/repo/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd');
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'BLOB_UNKNOWN');
  const del = await http(h.url, '/v2/repo/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd', { method: 'DELETE' });
  t.equal(del.status, 400);
  t.equal(del.json().errors[0].code, 'DIGEST_INVALID');
});

t.test('a method the endpoint does not have gets 405 UNSUPPORTED', async (t) => {
  const r = await http(h.url, '/v2/repo/tags/list', { method: 'DELETE' });
  t.equal(r.status, 405);
  t.equal(r.json().errors[0].code, 'UNSUPPORTED');
  const p = await http(h.url, '/v2/', { method: 'POST' });
  t.equal(p.status, 405);
});

t.test('health reports the storage', async (t) => {
  const s = await h.core.health();
  t.equal(s.healthy, true);
  t.match(s.detail, h.storage);
});
