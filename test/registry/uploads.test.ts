/** distribution-spec "Pushing blobs": monolithic, single POST, chunked, streamed, status, cancel, mount. */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { http, pushBlob, sha256, sha512, startCore } from './fixtures/harness.js';

const h = await startCore({ uploadChunkMinLength: 1024 });
t.teardown(h.close);

async function start(repo = 'up/test') {
  const r = await http(h.url, `/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': 0 } });
  if (r.status !== 202) throw new Error(`POST ${r.status} ${r.text}`);
  return r;
}

async function blobCount(): Promise<number> {
  let n = 0;
  for (const alg of await readdir(join(h.storage, 'blobs')).catch(() => [] as string[])) {
    for (const p of await readdir(join(h.storage, 'blobs', alg)))
      n += (await readdir(join(h.storage, 'blobs', alg, p))).length;
  }
  return n;
}

t.test(
  'POST opens a session: 202, relative Location, Docker-Upload-UUID, Range 0-0, OCI-Chunk-Min-Length',
  async (t) => {
    const r = await start();
    t.equal(r.status, 202);
    const loc = r.headers.location!;
    t.match(loc, /^\/v2\/up\/test\/blobs\/uploads\/[0-9a-f-]{36}$/, 'relative Location (pitfall #5)');
    t.equal(loc.split('/').pop(), r.headers['docker-upload-uuid']);
    t.equal(r.headers.range, '0-0');
    t.equal(r.headers['oci-chunk-min-length'], '1024');
    t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  },
);

t.test('monolithic POST then PUT with the body stores the blob (201, Location, digest)', async (t) => {
  const data = randomBytes(5000);
  const digest = sha256(data);
  const loc = (await start()).headers.location!;
  const put = await http(h.url, `${loc}?digest=${digest}`, {
    method: 'PUT',
    body: data,
    headers: { 'content-type': 'application/octet-stream', 'content-length': data.length },
  });
  t.equal(put.status, 201);
  t.equal(put.headers.location, `/v2/up/test/blobs/${digest}`);
  t.equal(put.headers['docker-content-digest'], digest);
  const get = await http(h.url, put.headers.location!);
  t.ok(get.body.equals(data));
  const gone = await http(h.url, loc);
  t.equal(gone.status, 404, 'the session is closed after PUT');
  t.equal(gone.json().errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
});

t.test('single POST ?digest= stores the blob in one request (end-4b)', async (t) => {
  const data = randomBytes(3000);
  const digest = await pushBlob(h.url, 'up/test', data);
  const head = await http(h.url, `/v2/up/test/blobs/${digest}`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], '3000');
});

t.test('chunked upload: PATCH with Content-Range, status GET, closing PUT', async (t) => {
  const data = randomBytes(3000);
  let loc = (await start()).headers.location!;
  const p1 = await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(0, 1200),
    headers: { 'content-type': 'application/octet-stream', 'content-range': '0-1199', 'content-length': 1200 },
  });
  t.equal(p1.status, 202);
  t.equal(p1.headers.range, '0-1199');
  t.equal(p1.headers['docker-upload-uuid'], loc.split('/').pop());
  loc = p1.headers.location!;
  const st = await http(h.url, loc);
  t.equal(st.status, 204, 'upload status is 204 (end-13)');
  t.equal(st.headers.range, '0-1199');
  t.equal(st.headers.location, loc);
  const p2 = await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(1200, 2400),
    headers: { 'content-range': '1200-2399', 'content-length': 1200 },
  });
  t.equal(p2.status, 202);
  t.equal(p2.headers.range, '0-2399');
  // the last chunk arrives with the closing PUT
  const put = await http(h.url, `${p2.headers.location}?digest=${sha256(data)}`, {
    method: 'PUT',
    body: data.subarray(2400),
    headers: { 'content-range': '2400-2999', 'content-length': 600 },
  });
  t.equal(put.status, 201);
  const get = await http(h.url, `/v2/up/test/blobs/${sha256(data)}`);
  t.ok(get.body.equals(data));
});

t.test("streamed PATCH without Content-Length (Transfer-Encoding: chunked, docker's way)", async (t) => {
  const parts = [randomBytes(70_000), randomBytes(100_000), randomBytes(5)];
  const data = Buffer.concat(parts);
  const loc = (await start()).headers.location!;
  const p = await http(h.url, loc, {
    method: 'PATCH',
    body: Readable.from(parts),
    headers: { 'content-type': 'application/octet-stream' },
  });
  t.equal(p.status, 202);
  t.equal(p.headers.range, `0-${data.length - 1}`);
  const put = await http(h.url, `${p.headers.location}?digest=${sha256(data)}`, {
    method: 'PUT',
    headers: { 'content-length': 0 },
  });
  t.equal(put.status, 201);
  t.ok((await http(h.url, `/v2/up/test/blobs/${sha256(data)}`)).body.equals(data));
});

t.test('an out-of-order chunk gets 416 with the current Range, and the upload can continue', async (t) => {
  const data = randomBytes(2000);
  const loc = (await start()).headers.location!;
  await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(0, 1000),
    headers: { 'content-range': '0-999', 'content-length': 1000 },
  });
  const skip = await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(1500),
    headers: { 'content-range': '1500-1999', 'content-length': 500 },
  });
  t.equal(skip.status, 416);
  t.equal(skip.headers.range, '0-999');
  t.equal(skip.headers.location, loc);
  t.equal(skip.headers['docker-distribution-api-version'], 'registry/2.0');
  const overlap = await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(500, 1500),
    headers: { 'content-range': '500-1499', 'content-length': 1000 },
  });
  t.equal(overlap.status, 416, 'overlapping chunk is refused too');
  const ok = await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(1000),
    headers: { 'content-range': '1000-1999', 'content-length': 1000 },
  });
  t.equal(ok.status, 202);
  const put = await http(h.url, `${loc}?digest=${sha256(data)}`, { method: 'PUT' });
  t.equal(put.status, 201);
});

t.test('Content-Length disagreeing with Content-Range is BLOB_UPLOAD_INVALID and changes nothing', async (t) => {
  const loc = (await start()).headers.location!;
  const r = await http(h.url, loc, {
    method: 'PATCH',
    body: Buffer.alloc(10),
    headers: { 'content-range': '0-19', 'content-length': 10 },
  });
  t.equal(r.status, 400);
  t.equal(r.json().errors[0].code, 'BLOB_UPLOAD_INVALID');
  t.equal((await http(h.url, loc)).headers.range, '0-0');
});

t.test('digest mismatch on PUT is 400 DIGEST_INVALID and nothing is stored', async (t) => {
  const before = await blobCount();
  const data = randomBytes(1000);
  const wrong = sha256('something else');
  const loc = (await start()).headers.location!;
  const put = await http(h.url, `${loc}?digest=${wrong}`, {
    method: 'PUT',
    body: data,
    headers: { 'content-length': data.length },
  });
  t.equal(put.status, 400);
  t.equal(put.json().errors[0].code, 'DIGEST_INVALID');
  t.equal((await http(h.url, `/v2/up/test/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
  t.equal((await http(h.url, `/v2/up/test/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  const single = await http(h.url, `/v2/up/test/blobs/uploads/?digest=${wrong}`, {
    method: 'POST',
    body: data,
    headers: { 'content-length': data.length },
  });
  t.equal(single.status, 400);
  t.equal(single.json().errors[0].code, 'DIGEST_INVALID');
  t.equal(await blobCount(), before, 'no new blob file');
});

t.test('PUT without ?digest= or with a malformed one is 400 DIGEST_INVALID', async (t) => {
  const loc = (await start()).headers.location!;
  t.equal((await http(h.url, loc, { method: 'PUT' })).json().errors[0].code, 'DIGEST_INVALID');
  t.equal((await http(h.url, `${loc}?digest=sha256:nope`, { method: 'PUT' })).status, 400);
});

t.test('PUT closing a chunked upload with a sha512 digest verifies sha512', async (t) => {
  const data = randomBytes(4000);
  const loc = (await start()).headers.location!;
  await http(h.url, loc, {
    method: 'PATCH',
    body: data,
    headers: { 'content-range': '0-3999', 'content-length': 4000 },
  });
  const put = await http(h.url, `${loc}?digest=${sha512(data)}`, { method: 'PUT' });
  t.equal(put.status, 201);
  t.equal(put.headers['docker-content-digest'], sha512(data));
});

t.test('DELETE cancels a session (204), after which it is unknown', async (t) => {
  const loc = (await start()).headers.location!;
  const del = await http(h.url, loc, { method: 'DELETE' });
  t.equal(del.status, 204);
  const st = await http(h.url, loc);
  t.equal(st.status, 404);
  t.equal(st.json().errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
  t.equal((await http(h.url, loc, { method: 'DELETE' })).status, 404);
});

t.test('unknown or foreign session ids are BLOB_UPLOAD_UNKNOWN', async (t) => {
  const loc = (await start('up/one')).headers.location!;
  const foreign = await http(h.url, loc.replace('/up/one/', '/up/two/'));
  t.equal(foreign.status, 404);
  t.equal(foreign.json().errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
  const bogus = await http(h.url, '/v2/up/one/blobs/uploads/not-a-uuid', { method: 'PATCH', body: 'x' });
  t.equal(bogus.json().errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
});

t.test('mount from another repository: 201 when the blob is there, 202 fallback otherwise', async (t) => {
  const digest = await pushBlob(h.url, 'mount/src', 'mountable');
  const m = await http(h.url, `/v2/mount/dst/blobs/uploads/?mount=${digest}&from=mount/src`, { method: 'POST' });
  t.equal(m.status, 201);
  t.equal(m.headers.location, `/v2/mount/dst/blobs/${digest}`);
  t.equal(m.headers['docker-content-digest'], digest);
  t.equal((await http(h.url, `/v2/mount/dst/blobs/${digest}`)).text, 'mountable');
  const missing = sha256('not there');
  const fb = await http(h.url, `/v2/mount/dst/blobs/uploads/?mount=${missing}&from=mount/src`, { method: 'POST' });
  t.equal(fb.status, 202, 'falls back to an upload session');
  t.match(fb.headers.location, /^\/v2\/mount\/dst\/blobs\/uploads\//);
  const noFrom = await http(h.url, `/v2/mount/dst2/blobs/uploads/?mount=${digest}`, { method: 'POST' });
  t.equal(noFrom.status, 202, 'no from → plain session');
  const wrongFrom = await http(h.url, `/v2/mount/dst3/blobs/uploads/?mount=${digest}&from=mount/elsewhere`, {
    method: 'POST',
  });
  t.equal(wrongFrom.status, 202, 'blob not in `from` → not mounted');
});

t.test('two clients pushing the same blob at once both succeed and it is stored once', async (t) => {
  const data = randomBytes(2 << 20);
  const digest = sha256(data);
  const [a, b] = await Promise.all([pushBlob(h.url, 'same/a', data), pushBlob(h.url, 'same/b', data)]);
  t.equal(a, digest);
  t.equal(b, digest);
  const hex = digest.slice(7);
  const files = await readdir(join(h.storage, 'blobs', 'sha256', hex.slice(0, 2)));
  t.equal(files.filter((f) => f === hex).length, 1);
  t.ok((await http(h.url, `/v2/same/a/blobs/${digest}`)).body.equals(data));
  t.ok((await http(h.url, `/v2/same/b/blobs/${digest}`)).body.equals(data));
});

t.test('an upload session survives a restart of the core and can be finished', async (t) => {
  const data = randomBytes(5000);
  const loc = (await start('restart/repo')).headers.location!;
  await http(h.url, loc, {
    method: 'PATCH',
    body: data.subarray(0, 2500),
    headers: { 'content-range': '0-2499', 'content-length': 2500 },
  });
  const { startCore: again } = await import('./fixtures/harness.js');
  const h2 = await again({ storage: h.storage });
  t.teardown(h2.close);
  const st = await http(h2.url, loc);
  t.equal(st.status, 204);
  t.equal(st.headers.range, '0-2499');
  const p = await http(h2.url, loc, {
    method: 'PATCH',
    body: data.subarray(2500),
    headers: { 'content-range': '2500-4999', 'content-length': 2500 },
  });
  t.equal(p.status, 202);
  // and back on the first instance for the close: sessions are shared through storage
  const put = await http(h.url, `${loc}?digest=${sha256(data)}`, { method: 'PUT' });
  t.equal(put.status, 201);
  t.ok((await http(h2.url, `/v2/restart/repo/blobs/${sha256(data)}`)).body.equals(data));
});
