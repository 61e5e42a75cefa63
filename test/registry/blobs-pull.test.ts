/** distribution-spec "Pulling blobs", "Range request support", "Checking if content exists", "Deleting Blobs". */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { http, pushBlob, sha512, startCore } from './fixtures/harness.js';

const h = await startCore();
t.teardown(h.close);
const data = randomBytes(10_000);
const digest = await pushBlob(h.url, 'pull/test', data);

t.test('GET blob returns the bytes with Docker-Content-Digest, Content-Length and Accept-Ranges', async (t) => {
  const r = await http(h.url, `/v2/pull/test/blobs/${digest}`);
  t.equal(r.status, 200);
  t.ok(r.body.equals(data));
  t.equal(r.headers['docker-content-digest'], digest);
  t.equal(r.headers['content-length'], String(data.length));
  t.equal(r.headers['accept-ranges'], 'bytes');
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
});

t.test('HEAD blob has Content-Length and digest but no body', async (t) => {
  const r = await http(h.url, `/v2/pull/test/blobs/${digest}`, { method: 'HEAD' });
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], String(data.length));
  t.equal(r.headers['docker-content-digest'], digest);
  t.equal(r.body.length, 0);
});

t.test('Range bytes=N-M returns 206 with Content-Range and exactly those bytes', async (t) => {
  const r = await http(h.url, `/v2/pull/test/blobs/${digest}`, { headers: { range: 'bytes=100-199' } });
  t.equal(r.status, 206);
  t.equal(r.headers['content-range'], `bytes 100-199/${data.length}`);
  t.equal(r.headers['content-length'], '100');
  t.ok(r.body.equals(data.subarray(100, 200)));
  t.equal(r.headers['docker-content-digest'], digest);
});

t.test('open-ended and suffix ranges resume a download', async (t) => {
  const open = await http(h.url, `/v2/pull/test/blobs/${digest}`, { headers: { range: 'bytes=9000-' } });
  t.equal(open.status, 206);
  t.equal(open.headers['content-range'], `bytes 9000-9999/10000`);
  t.ok(open.body.equals(data.subarray(9000)));
  const suffix = await http(h.url, `/v2/pull/test/blobs/${digest}`, { headers: { range: 'bytes=-10' } });
  t.equal(suffix.status, 206);
  t.ok(suffix.body.equals(data.subarray(data.length - 10)));
  const past = await http(h.url, `/v2/pull/test/blobs/${digest}`, { headers: { range: 'bytes=9990-20000' } });
  t.equal(past.status, 206);
  t.equal(past.headers['content-range'], `bytes 9990-9999/10000`);
});

t.test('an unsatisfiable range is 416 with Content-Range bytes */size', async (t) => {
  const r = await http(h.url, `/v2/pull/test/blobs/${digest}`, { headers: { range: 'bytes=10000-' } });
  t.equal(r.status, 416);
  t.equal(r.headers['content-range'], `bytes */${data.length}`);
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
});

t.test('multiple ranges or a stale If-Range get the whole blob (200)', async (t) => {
  const multi = await http(h.url, `/v2/pull/test/blobs/${digest}`, { headers: { range: 'bytes=0-1,5-6' } });
  t.equal(multi.status, 200);
  t.equal(multi.body.length, data.length);
  const stale = await http(h.url, `/v2/pull/test/blobs/${digest}`, {
    headers: { range: 'bytes=0-1', 'if-range': '"other"' },
  });
  t.equal(stale.status, 200);
  const fresh = await http(h.url, `/v2/pull/test/blobs/${digest}`, {
    headers: { range: 'bytes=0-1', 'if-range': `"${digest}"` },
  });
  t.equal(fresh.status, 206);
});

t.test('unknown blob is 404 BLOB_UNKNOWN, and so is a malformed digest (it can never be found)', async (t) => {
  const unknown = await http(h.url, `/v2/pull/test/blobs/sha256:${'0'.repeat(64)}`);
  t.equal(unknown.status, 404);
  t.equal(unknown.json().errors[0].code, 'BLOB_UNKNOWN');
  const head = await http(h.url, `/v2/pull/test/blobs/sha256:${'0'.repeat(64)}`, { method: 'HEAD' });
  t.equal(head.status, 404);
  t.equal(head.body.length, 0);
  for (const bad of ['sha256:abc', `md5:${'0'.repeat(32)}`, `sha256:${'G'.repeat(64)}`, `sha512:${'0'.repeat(64)}`]) {
    const r = await http(h.url, `/v2/pull/test/blobs/${bad}`);
    t.equal(r.status, 404, bad);
    t.equal(r.json().errors[0].code, 'BLOB_UNKNOWN');
  }
});

t.test('a blob pushed to one repository is not readable through another', async (t) => {
  const r = await http(h.url, `/v2/other/repo/blobs/${digest}`);
  t.equal(r.status, 404);
  t.equal(r.json().errors[0].code, 'BLOB_UNKNOWN');
});

t.test('sha512 digests are accepted for push and pull', async (t) => {
  const body = Buffer.from('sha512 content');
  const d = sha512(body);
  const up = await http(h.url, `/v2/pull/test/blobs/uploads/?digest=${d}`, {
    method: 'POST',
    body,
    headers: { 'content-length': body.length },
  });
  t.equal(up.status, 201);
  t.equal(up.headers['docker-content-digest'], d);
  const r = await http(h.url, `/v2/pull/test/blobs/${d}`);
  t.equal(r.status, 200);
  t.ok(r.body.equals(body));
  t.equal(r.headers['docker-content-digest'], d);
});

t.test('a zero-length blob can be pushed and pulled', async (t) => {
  const d = await pushBlob(h.url, 'pull/test', Buffer.alloc(0));
  const r = await http(h.url, `/v2/pull/test/blobs/${d}`);
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], '0');
});

t.test('DELETE blob removes it from the repository (202) and then 404s', async (t) => {
  const d = await pushBlob(h.url, 'pull/test', 'to be deleted');
  const del = await http(h.url, `/v2/pull/test/blobs/${d}`, { method: 'DELETE' });
  t.equal(del.status, 202);
  const after = await http(h.url, `/v2/pull/test/blobs/${d}`, { method: 'HEAD' });
  t.equal(after.status, 404);
  const again = await http(h.url, `/v2/pull/test/blobs/${d}`, { method: 'DELETE' });
  t.equal(again.status, 404);
  t.equal(again.json().errors[0].code, 'BLOB_UNKNOWN');
});
