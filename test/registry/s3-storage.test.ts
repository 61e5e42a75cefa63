/**
 * The S3 driver against a real OpenStack Swift (s3api) on loopback, started once for this
 * file: metadata and blob primitives, multipart upload sessions fed with chunks of awkward
 * sizes, the registry core on a bucket (streamed and chunked pushes, digest mismatch, two
 * cores on one bucket, storage redirects, metadata cache), one-line start-up errors, gc.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { S3Storage } from '../../src/registry/storage/s3.js';
import { createRegistryCore, collectGarbage } from '../../src/registry/index.js';
import { startSwift, swiftMissing, type Swift } from '../helpers/swift.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseS3Url } from '../../src/registry/storage/s3-client.js';
import { http, imageParts, pushBlob, putManifest, sha256, startCore, type Harness } from './fixtures/harness.js';
import { BROWSE_HEADER } from '../../src/oci/browse-header.js';

t.test('options: s3 flags need an s3:// storage, URLs and bucket names are checked', async (t) => {
  const check = (flags: Record<string, unknown>) => {
    try {
      resolveConfig(loadConfig({ flags, env: {} }).config);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.equal(
    check({
      storage: 's3://bucket/prefix',
      s3Endpoint: 'http://127.0.0.1:8080',
      storageRedirect: true,
      storageCacheTtl: '2s',
    }),
    'ok',
  );
  t.match(
    check({ storageRedirect: true }),
    /^--storage-redirect \(PORTCULLIS_STORAGE_REDIRECT\): needs an s3:\/\/BUCKET\/PREFIX --storage$/,
  );
  t.match(check({ s3Endpoint: 'http://x' }), /^--s3-endpoint .*needs an s3:/);
  t.match(check({ storage: 's3://bucket/p', s3Endpoint: 'ftp://x' }), /^--s3-endpoint .*must start with http/);
  t.match(check({ storage: 's3:///p' }), /^--storage .*not an s3:\/\/BUCKET\/PREFIX location/);
  t.match(
    check({ storage: 's3://bucket/p', storageRedirectBase: 'https://cdn' }),
    /only makes sense with --storage-redirect/,
  );
  t.same(parseS3Url('s3://bucket'), { bucket: 'bucket', prefix: '' });
  t.same(parseS3Url('s3://bucket/a//b/'), { bucket: 'bucket', prefix: 'a/b/' });
  t.throws(() => parseS3Url('s3://bucket/a/../b'));
});

const missing = swiftMissing();
if (missing) {
  t.plan(0, missing);
} else {
  const swift: Swift = await startSwift();
  t.teardown(() => swift.stop());
  const s3 = {
    endpoint: swift.endpoint,
    region: swift.region,
    credentials: { accessKeyId: swift.accessKey, secretAccessKey: swift.secretKey },
  };
  const PART = 5 << 20;
  const storageOn = async (prefix = 'reg') => {
    const bucket = await swift.createBucket();
    const s = new S3Storage(`s3://${bucket}/${prefix}`, { ...s3, partSize: PART });
    t.teardown(() => s.destroy());
    return { s, bucket };
  };
  const coreOn = async (bucket: string, extra: Record<string, unknown> = {}): Promise<Harness> => {
    const h = await startCore({ storage: `s3://${bucket}/reg`, s3, ...extra });
    t.teardown(() => h.close());
    return h;
  };
  const openUploads = async (bucket: string) =>
    (await swift.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
  const chunksOf = (data: Buffer, sizes: number[]) => {
    const out: Buffer[] = [];
    let off = 0;
    for (const n of sizes) {
      out.push(data.subarray(off, off + n));
      off += n;
    }
    if (off < data.length) out.push(data.subarray(off));
    return out;
  };

  t.test('metadata: atomic documents, listings, directory stats, trees; keys cannot escape the prefix', async (t) => {
    const { s, bucket } = await storageOn('some/prefix');
    await s.writeMeta('repositories/a/b/_manifests/tags/v1', '{"digest":"x"}');
    await s.writeMeta('repositories/a/b/_manifests/tags/v2', 'y');
    await s.writeMeta('repositories/c/_blobs/sha256/ab', 'z');
    t.equal((await s.readMeta('repositories/a/b/_manifests/tags/v1'))!.toString(), '{"digest":"x"}');
    t.equal(await s.readMeta('repositories/a/b/_manifests/tags/nope'), null);
    t.same((await s.listMeta('repositories/a/b/_manifests/tags')).sort(), ['v1', 'v2']);
    t.same((await s.listMeta('repositories')).sort(), ['a', 'c']);
    t.same(await s.listMeta('repositories/zzz'), []);
    t.ok(await s.statMeta('repositories/a/b'), 'a "directory" exists when something is below it');
    t.equal(await s.statMeta('repositories/a/x'), null);
    t.equal(await s.deleteMeta('repositories/a/b/_manifests/tags/v2'), true);
    t.equal(await s.deleteMeta('repositories/a/b/_manifests/tags/v2'), false);
    await s.deleteMetaTree('repositories/a');
    t.same(await s.listMeta('repositories'), ['c']);
    for (const key of ['../x', 'a/../../x', 'a//b', './a', 'a\\b', '/abs']) await t.rejects(s.writeMeta(key, 'x'), key);
    t.ok(
      (await swift.listKeys(bucket)).every((o) => o.key.startsWith('some/prefix/')),
      'everything under the prefix',
    );
  });

  t.test('blobs: put, stat, ranges, touch refreshes the gc clock, list, delete', async (t) => {
    const { s } = await storageOn();
    const data = Buffer.from('0123456789abcdef');
    const d = sha256(data);
    t.equal(await s.statBlob(d), null);
    await s.putBlob(d, data);
    const st = (await s.statBlob(d))!;
    t.equal(st.size, 16);
    const read = async (r?: { start: number; end: number }) => {
      const c: Buffer[] = [];
      for await (const x of s.readBlob(d, r)) c.push(x as Buffer);
      return Buffer.concat(c).toString();
    };
    t.equal(await read(), '0123456789abcdef');
    t.equal(await read({ start: 3, end: 5 }), '345');
    await new Promise((r) => setTimeout(r, 1100));
    await s.touchBlob(d);
    t.ok((await s.statBlob(d))!.mtimeMs > st.mtimeMs, 'touch moves the used-at time forward');
    const listed = [];
    for await (const b of s.listBlobs()) listed.push(b);
    t.same(
      listed.map((b) => [b.digest, b.size]),
      [[d, 16]],
    );
    t.equal(await s.deleteBlob(d), true);
    t.equal(await s.deleteBlob(d), false);
    t.equal(await s.readBlobBuffer(d), null);
  });

  t.test('upload sessions: chunks of any size become >= 5 MiB parts; offsets, cut-back, commit, cleanup', async (t) => {
    const { s, bucket } = await storageOn();
    const data = randomBytes(17 * (1 << 20) + 12345);
    const u = await s.createUpload('r');
    let off = 0;
    // 1 MiB, 7 MiB (crosses a part), 3 bytes, 6 MiB, rest: tails carried between requests.
    for (const sizes of [[1 << 20], [3 << 20, 4 << 20], [3], [6 << 20]]) {
      const len = sizes.reduce((a, b) => a + b, 0);
      off = await s.appendUpload(u.id, off, Readable.from(chunksOf(data.subarray(off, off + len), sizes)));
      t.equal((await s.getUpload(u.id))!.size, off);
    }
    await t.rejects(
      s.appendUpload(u.id, 5, Readable.from([Buffer.from('x')])),
      { message: `upload is at ${off} bytes` },
      'wrong offset refused with the current size',
    );
    // A chunk found wrong after it landed is cut off again (whole).
    const before = off;
    const extra = await s.appendUpload(u.id, off, Readable.from([Buffer.from('garbage')]));
    await s.truncateUpload(u.id, before);
    t.equal((await s.getUpload(u.id))!.size, before);
    t.ok(extra > before);
    // A failing body leaves the session as it was.
    async function* broken() {
      yield data.subarray(off, off + (6 << 20));
      throw new Error('client went away');
    }
    await t.rejects(s.appendUpload(u.id, off, Readable.from(broken())), /client went away/);
    t.equal((await s.getUpload(u.id))!.size, before, 'an interrupted chunk is not kept');
    off = await s.appendUpload(u.id, off, Readable.from([data.subarray(off)]));
    t.equal(off, data.length);
    // Another instance (no hash state) re-reads the session to verify it.
    const h = createHash('sha256');
    for await (const c of s.readUpload(u.id)) h.update(c as Buffer);
    t.equal(`sha256:${h.digest('hex')}`, sha256(data), 'the session reads back byte for byte');
    await s.commitUpload(u.id, sha256(data));
    t.ok((await s.readBlobBuffer(sha256(data)))!.equals(data), 'the committed blob is whole');
    t.same(await s.listUploads(), []);
    t.same(await openUploads(bucket), [], 'no multipart upload left open');
    t.same(await swift.listKeys(bucket, 'reg/uploads/'), [], 'no session object left');
    // Small sessions never start a multipart upload; empty ones commit too.
    const small = await s.createUpload('r');
    await s.appendUpload(small.id, 0, Readable.from([Buffer.from('tiny')]));
    await s.commitUpload(small.id, sha256('tiny'));
    t.equal((await s.readBlobBuffer(sha256('tiny')))!.toString(), 'tiny');
    const empty = await s.createUpload('r');
    await s.commitUpload(empty.id, sha256(''));
    t.equal((await s.statBlob(sha256('')))!.size, 0);
  });

  t.test('the core on a bucket: docker streamed PATCH, OCI chunks of odd sizes, mismatch stores nothing', async (t) => {
    const bucket = await swift.createBucket();
    const core = await coreOn(bucket);
    const data = randomBytes(13 << 20);
    const d = sha256(data);
    // docker: POST, one PATCH without Content-Length (chunked), PUT ?digest=
    let loc = (await http(core.url, '/v2/s3/docker/blobs/uploads/', { method: 'POST' })).headers.location!;
    const patch = await http(core.url, loc, {
      method: 'PATCH',
      body: Readable.from(chunksOf(data, Array(50).fill(300_000))),
      headers: { 'transfer-encoding': 'chunked' },
    });
    t.equal(patch.status, 202);
    t.equal(patch.headers.range, `0-${data.length - 1}`);
    t.equal((await http(core.url, `${loc}?digest=${d}`, { method: 'PUT' })).status, 201);
    t.ok((await http(core.url, `/v2/s3/docker/blobs/${d}`)).body.equals(data));
    // OCI chunked: 100 KiB, 6 MiB, 1 byte, the rest on PUT
    loc = (await http(core.url, '/v2/s3/oci/blobs/uploads/', { method: 'POST' })).headers.location!;
    let off = 0;
    for (const n of [100 << 10, 6 << 20, 1]) {
      const r = await http(core.url, loc, {
        method: 'PATCH',
        body: data.subarray(off, off + n),
        headers: { 'content-range': `${off}-${off + n - 1}`, 'content-length': n },
      });
      t.equal(r.status, 202);
      loc = r.headers.location!;
      off += n;
    }
    const ooo = await http(core.url, loc, {
      method: 'PATCH',
      body: 'xx',
      headers: { 'content-range': '5-6', 'content-length': 2 },
    });
    t.equal(ooo.status, 416, 'out-of-order chunk');
    t.equal(
      (
        await http(core.url, `${loc}?digest=${d}`, {
          method: 'PUT',
          body: data.subarray(off),
          headers: { 'content-length': data.length - off },
        })
      ).status,
      201,
    );
    t.ok(
      (await http(core.url, `/v2/s3/oci/blobs/${d}`, { headers: { range: 'bytes=100-199' } })).body.equals(
        data.subarray(100, 200),
      ),
      'ranges',
    );
    // Wrong digest: 400, nothing at either digest's key, session gone.
    const wrong = sha256('something else');
    const bad = await http(core.url, `/v2/s3/bad/blobs/uploads/?digest=${wrong}`, {
      method: 'POST',
      body: data.subarray(0, 6 << 20),
      headers: { 'content-length': 6 << 20 },
    });
    t.equal(bad.status, 400);
    t.equal(bad.json().errors[0].code, 'DIGEST_INVALID');
    const keys = (await swift.listKeys(bucket, 'reg/blobs/')).map((o) => o.key);
    t.notOk(
      keys.some((k) => k.endsWith(wrong.slice(7)) || k.endsWith(sha256(data.subarray(0, 6 << 20)).slice(7))),
      'nothing stored for the bad push',
    );
    t.same(await openUploads(bucket), []);
  });

  t.test('two cores on one bucket: one upload alternating between them, tags seen by both, catalog', async (t) => {
    const bucket = await swift.createBucket();
    const [a, b] = [await coreOn(bucket), await coreOn(bucket)];
    const data = randomBytes(12 << 20);
    let loc = (await http(a.url, '/v2/shared/repo/blobs/uploads/', { method: 'POST' })).headers.location!;
    const cuts = [0, 3 << 20, 9 << 20, data.length];
    for (let i = 0; i < 3; i++) {
      const srv = i % 2 ? a : b;
      const r = await http(srv.url, loc, {
        method: 'PATCH',
        body: data.subarray(cuts[i], cuts[i + 1]),
        headers: { 'content-range': `${cuts[i]}-${cuts[i + 1]! - 1}`, 'content-length': cuts[i + 1]! - cuts[i]! },
      });
      t.equal(r.status, 202, `PATCH ${i} on ${i % 2 ? 'a' : 'b'}`);
      loc = r.headers.location!;
    }
    t.equal(
      (await http(a.url, `${loc}?digest=${sha256(data)}`, { method: 'PUT' })).status,
      201,
      'PUT on a (re-hashes what b wrote)',
    );
    t.ok((await http(b.url, `/v2/shared/repo/blobs/${sha256(data)}`)).body.equals(data));
    const { manifest } = await imageParts(a.url, 'shared/repo');
    const put = await putManifest(b.url, 'shared/repo', 'v1', manifest);
    t.equal(put.status, 201);
    t.equal(
      (await http(a.url, '/v2/shared/repo/manifests/v1', { method: 'HEAD' })).headers['docker-content-digest'],
      put.digest,
    );
    t.same((await http(a.url, '/v2/_catalog')).json().repositories, ['shared/repo']);
    t.same(await a.core.listRepositories(), ['shared/repo']);
    t.same(await b.core.listTags('shared/repo'), ['v1']);
    t.equal((await http(a.url, '/v2/shared/repo/manifests/v1', { method: 'DELETE' })).status, 202);
    t.equal((await http(b.url, '/v2/shared/repo/manifests/v1')).status, 404);
  });

  t.test(
    'storage redirects: blob GET → 307 to a presigned URL that serves the bytes; HEAD and manifests direct',
    async (t) => {
      const bucket = await swift.createBucket();
      const core = await coreOn(bucket, { redirect: {} });
      const { manifest, layerDigest, configDigest } = await imageParts(core.url, 'redir/app');
      const put = await putManifest(core.url, 'redir/app', 'v1', manifest);
      // The repository browser may talk to its own origin only: its reads of small blobs
      // (image configs) are answered here, anything larger is redirected for it too.
      const browsed = await http(core.url, `/v2/redir/app/blobs/${configDigest}`, {
        headers: { [BROWSE_HEADER]: '1' },
      });
      t.equal(browsed.status, 200, 'the browser reads a config here');
      t.equal(sha256(browsed.body), configDigest);
      const large = await pushBlob(core.url, 'redir/app', Buffer.alloc((1 << 20) + 1, 7));
      t.equal(
        (await http(core.url, `/v2/redir/app/blobs/${large}`, { headers: { [BROWSE_HEADER]: '1' } })).status,
        307,
        'a blob over 1 MiB is redirected even for the browser',
      );
      t.equal((await http(core.url, `/v2/redir/app/blobs/${configDigest}`)).status, 307, 'and every blob for others');
      const get = await http(core.url, `/v2/redir/app/blobs/${layerDigest}`);
      t.equal(get.status, 307);
      const url = get.headers.location!;
      t.match(url, new RegExp(`^${swift.endpoint}/${bucket}/reg/blobs/sha256/`));
      t.match(url, /X-Amz-Signature=/);
      const direct = await fetch(url);
      t.equal(direct.status, 200);
      t.equal(sha256(Buffer.from(await direct.arrayBuffer())), layerDigest, 'the presigned URL serves the blob');
      const head = await http(core.url, `/v2/redir/app/blobs/${layerDigest}`, { method: 'HEAD' });
      t.equal(head.status, 200);
      t.ok(Number(head.headers['content-length']) > 0);
      t.equal((await http(core.url, '/v2/redir/app/manifests/v1')).headers['docker-content-digest'], put.digest);
      t.equal(
        (await http(core.url, `/v2/redir/app/blobs/${sha256('unknown')}`)).status,
        404,
        'unknown blobs are still 404 here',
      );
      const cdn = await coreOn(bucket, { redirect: { base: 'https://cdn.example.com/' } });
      t.equal(
        (await http(cdn.url, `/v2/redir/app/blobs/${layerDigest}`)).headers.location,
        `https://cdn.example.com/reg/blobs/sha256/${layerDigest.slice(7, 9)}/${layerDigest.slice(7)}`,
      );
    },
  );

  t.test("metadata cache: another instance's new tag at once, its move within the TTL", async (t) => {
    const bucket = await swift.createBucket();
    const writer = await coreOn(bucket);
    const cached = await coreOn(bucket, { metadataCacheTtlMs: 1500 });
    const one = await imageParts(writer.url, 'c/app', { seed: 'one' });
    const two = await imageParts(writer.url, 'c/app', { seed: 'two' });
    const p1 = await putManifest(writer.url, 'c/app', 'v1', one.manifest);
    t.equal(
      (await http(cached.url, '/v2/c/app/manifests/v1', { method: 'HEAD' })).headers['docker-content-digest'],
      p1.digest,
      'new tag seen at once',
    );
    const p2 = await putManifest(writer.url, 'c/app', 'v1', two.manifest);
    t.equal(
      (await http(cached.url, '/v2/c/app/manifests/v1', { method: 'HEAD' })).headers['docker-content-digest'],
      p1.digest,
      'moved tag: old answer within the TTL',
    );
    await new Promise((r) => setTimeout(r, 1600));
    t.equal(
      (await http(cached.url, '/v2/c/app/manifests/v1', { method: 'HEAD' })).headers['docker-content-digest'],
      p2.digest,
      'new answer after it',
    );
    const p3 = await putManifest(cached.url, 'c/app', 'v1', one.manifest);
    t.equal(
      (await http(cached.url, '/v2/c/app/manifests/v1', { method: 'HEAD' })).headers['docker-content-digest'],
      p3.digest,
      'own writes seen at once',
    );
  });

  t.test('start-up fails with one line naming the problem', async (t) => {
    const bucket = await swift.createBucket();
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'missing bucket',
        { storage: 's3://no-such-bucket-here/x', s3 },
        /^S3 bucket "no-such-bucket-here" does not exist at http/,
      ],
      [
        'wrong credentials',
        {
          storage: `s3://${bucket}/x`,
          s3: { ...s3, credentials: { accessKeyId: 'test:tester', secretAccessKey: 'wrong' } },
        },
        /^S3 credentials rejected by http\S+ \(SignatureDoesNotMatch\)$/,
      ],
      [
        'unknown user',
        {
          storage: `s3://${bucket}/x`,
          s3: { ...s3, credentials: { accessKeyId: 'nobody:none', secretAccessKey: 'x' } },
        },
        /^S3 (credentials rejected|access to bucket)/,
      ],
      [
        'unreachable endpoint',
        { storage: `s3://${bucket}/x`, s3: { ...s3, endpoint: 'http://127.0.0.1:9' } },
        /^S3 endpoint http:\/\/127\.0\.0\.1:9 unreachable \(ECONNREFUSED\)$/,
      ],
    ];
    for (const [what, opts, re] of cases) {
      const err = await createRegistryCore({ deleteEnabled: true, readOnly: false, ...opts } as never).then(
        () => null,
        (e: Error) => e.message,
      );
      t.match(err, re, `${what}: ${err}`);
      t.notMatch(err ?? '', /\n/, 'one line');
    }
  });

  t.test('gc on the bucket: unreachable manifests and blobs go, tagged images stay whole', async (t) => {
    const bucket = await swift.createBucket();
    const core = await coreOn(bucket);
    const keep = await imageParts(core.url, 'gc/app', { seed: 'keep' });
    const drop = await imageParts(core.url, 'gc/app', { seed: 'drop' });
    await putManifest(core.url, 'gc/app', 'keep', keep.manifest);
    const dropped = await putManifest(core.url, 'gc/app', 'drop', drop.manifest);
    t.equal((await http(core.url, `/v2/gc/app/manifests/${dropped.digest}`, { method: 'DELETE' })).status, 202);
    await http(core.url, '/v2/gc/app/blobs/uploads/', { method: 'POST' }); // an abandoned session
    const opts = { storage: `s3://${bucket}/reg`, s3, gracePeriodMs: 0 };
    await new Promise((r) => setTimeout(r, 1100)); // S3 Last-Modified has whole seconds (Swift rounds up)
    const dry = await collectGarbage({ ...opts, dryRun: true });
    const res = await collectGarbage({ ...opts, dryRun: false });
    t.same(res, dry, 'the dry run predicts the real one');
    t.equal(res.blobsDeleted, 3, "the dropped image's manifest, config and layer");
    t.equal((await http(core.url, `/v2/gc/app/blobs/${drop.layerDigest}`)).status, 404);
    t.equal((await http(core.url, `/v2/gc/app/blobs/${keep.layerDigest}`)).status, 200);
    t.equal((await http(core.url, '/v2/gc/app/manifests/keep')).status, 200);
    t.same(await swift.listKeys(bucket, 'reg/uploads/'), [], 'abandoned session removed');
    const young = await collectGarbage({ ...opts, gracePeriodMs: 3_600_000, dryRun: false });
    t.equal(young.blobsDeleted, 0);
  });
}
