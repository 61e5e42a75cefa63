/**
 * End to end on a bucket: portcullis processes (the real binary) with `--storage s3://...` on
 * a real OpenStack Swift (s3api) on loopback, started once for this file. skopeo pushes a
 * multi-layer image with a 64 MiB layer through one instance and pulls it back byte for byte
 * through another; multi-arch `--all`; one upload whose POST/PATCH/PUT alternate between the
 * instances; `--storage-redirect` pulls from presigned URLs (portcullis' byte counters stay
 * near zero); delete and `portcullis gc` on the bucket; kill -9 mid-upload leaves no wrong object.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { blobsNotMatching, makeOciImage } from '../helpers/oci-image.js';
import { execFileP, PORTCULLIS_BIN, skopeo, skopeoPull, skopeoPush } from '../helpers/processes.js';
import { portcullisFor } from '../helpers/scoped.js';
import { swiftForFile } from '../helpers/swift-file.js';
import { http, sha256 } from '../registry/fixtures/harness.js';

const LAYER = Number(process.env.PORTCULLIS_E2E_LAYER_MB ?? 64) << 20;
const onSwift = await swiftForFile(t, 'portcullis-e2e-s3-');
if (onSwift) {
  const { swift, work, bucket } = onSwift;
  const storage = `s3://${bucket}/registry`;
  const s3Args = ['--storage', storage, '--s3-endpoint', swift.endpoint];

  // Every instance lives until the file ends (the root t), even one started inside a test.
  const instance = (extra: string[] = []) =>
    portcullisFor(t, [...s3Args, '--access-log', 'off', ...extra], { env: swift.env });
  const [a, b] = await Promise.all([instance(), instance()]);
  const hwm = async (pid: number) =>
    Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const rss = async (pid: number) =>
    Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const img = await makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [LAYER, 1 << 20, 10_000] });
  const mb = (ms: number) => (LAYER / 1048576 / (ms / 1000)).toFixed(0);
  /** Objects under blobs/ whose bytes do not hash to their key (must always be none). */
  const wrongObjects = async () => {
    const bad: string[] = [];
    for (const o of await swift.listKeys(bucket, 'registry/blobs/sha256/')) {
      const r = await swift.client.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
      const h = createHash('sha256');
      for await (const c of r.Body as NodeJS.ReadableStream) h.update(c as Buffer);
      if (h.digest('hex') !== o.key.split('/').pop()) bad.push(o.key);
    }
    return bad;
  };
  const sentBytes = async (url: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return [...text.matchAll(/^portcullis_sent_bytes_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
  };
  const timings: string[] = [];

  await t.test(
    'skopeo pushes through one instance and pulls back byte for byte through another (64 MiB layer, flat memory)',
    async (t) => {
      // A small push first, so what a first push loads on demand (code, pools, the heap's working
      // size) is in the baseline; then the peak is reset to the current RSS and only what the big
      // layer adds is measured.
      const warm = await makeOciImage(join(work, 'warm'), { tag: 'w', layerSizes: [1 << 20] });
      await skopeoPush(`${warm.dir}:w`, `${a.host}/e2e/warm:w`);
      await writeFile(`/proc/${a.pid}/clear_refs`, '5');
      const start = await rss(a.pid);
      let t0 = Date.now();
      await skopeoPush(`${img.dir}:v1`, `${a.host}/e2e/app:v1`);
      const push = Date.now() - t0;
      t0 = Date.now();
      const back = join(work, 'back');
      await skopeoPull(`${b.host}/e2e/app:v1`, `${back}:v1`);
      const pull = Date.now() - t0;
      t.same(await blobsNotMatching(back, img.blobs), [], 'every blob (manifest, config, layers) identical');
      // One 8 MiB part buffered per upload (20 MiB grown in all); buffering the layer would add
      // >= 64 MiB, and leaving each spent body block to the garbage collector ~30 MiB.
      const grown = (await hwm(a.pid)) - start;
      t.ok(
        grown < 36 << 20,
        `instance a's peak RSS grew ${(grown / 1048576).toFixed(1)} MiB while ${LAYER >> 20} MiB went to the bucket`,
      );
      timings.push(
        `s3 (Swift): push ${LAYER >> 20} MiB image ${push} ms (${mb(push)} MB/s), pull ${pull} ms (${mb(pull)} MB/s)`,
      );
      const info = JSON.parse(
        (await skopeo(['inspect', '--tls-verify=false', `docker://${b.host}/e2e/app:v1`])).stdout,
      );
      t.equal(info.Digest, img.manifest.digest);
      t.same(
        JSON.parse((await skopeo(['list-tags', '--tls-verify=false', `docker://${a.host}/e2e/app`])).stdout).Tags,
        ['v1'],
      );
      t.same(await wrongObjects(), [], 'every object at a digest key hashes to it');
    },
  );

  await t.test('skopeo copy --all: a multi-arch index pushed to one instance, pulled from the other', async (t) => {
    const multi = await makeOciImage(join(work, 'multi'), {
      tag: 'm',
      layerSizes: [1 << 20],
      archs: ['amd64', 'arm64'],
    });
    await skopeoPush(`${multi.dir}:m`, `${b.host}/e2e/multi:m`, ['--all']);
    const raw = JSON.parse(
      (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${a.host}/e2e/multi:m`])).stdout,
    );
    t.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
    const back = join(work, 'multi-back');
    await skopeoPull(`${a.host}/e2e/multi:m`, `${back}:m`, ['--all']);
    t.same(await blobsNotMatching(back, multi.blobs), [], 'index, both manifests, configs and layers identical');
  });

  await t.test('one upload alternating between two instances: POST a, PATCH b, PATCH a, PUT b', async (t) => {
    const data = randomBytes(11 << 20);
    const d = sha256(data);
    const post = await http(a.origin, '/v2/e2e/alt/blobs/uploads/', { method: 'POST' });
    t.equal(post.status, 202);
    const p1 = await http(b.origin, post.headers.location!, {
      method: 'PATCH',
      body: data.subarray(0, 6 << 20),
      headers: { 'content-range': `0-${(6 << 20) - 1}`, 'content-length': 6 << 20 },
    });
    t.equal(p1.status, 202);
    const p2 = await http(a.origin, p1.headers.location!, {
      method: 'PATCH',
      body: data.subarray(6 << 20),
      headers: { 'content-range': `${6 << 20}-${data.length - 1}`, 'content-length': data.length - (6 << 20) },
    });
    t.equal(p2.status, 202);
    t.equal(p2.headers.range, `0-${data.length - 1}`);
    const status = await http(b.origin, p2.headers.location!);
    t.equal(status.headers.range, `0-${data.length - 1}`, 'b sees the progress a made');
    const put = await http(b.origin, `${p2.headers.location!}?digest=${d}`, { method: 'PUT' });
    t.equal(put.status, 201);
    t.ok((await http(a.origin, `/v2/e2e/alt/blobs/${d}`)).body.equals(data), 'served whole by a');
  });

  await t.test(
    '--storage-redirect: skopeo pulls blobs from presigned URLs; portcullis sends almost none of the bytes',
    async (t) => {
      const c = await instance(['--storage-redirect']);
      const before = await sentBytes(c.origin);
      const back = join(work, 'redirected');
      await skopeoPull(`${c.host}/e2e/app:v1`, `${back}:v1`);
      t.same(await blobsNotMatching(back, img.blobs), [], 'every blob identical');
      const sent = (await sentBytes(c.origin)) - before;
      t.ok(
        sent < 256 << 10,
        `portcullis sent ${sent} bytes for a ${((LAYER + (1 << 20)) / 1048576).toFixed(0)} MiB pull (manifest and headers only)`,
      );
      const get = await http(c.origin, `/v2/e2e/app/blobs/${img.layers[0]!.digest}`);
      t.equal(get.status, 307);
      t.match(get.headers.location, /X-Amz-Signature=/);
      t.equal(
        (await http(c.origin, `/v2/e2e/app/blobs/${img.layers[0]!.digest}`, { method: 'HEAD' })).status,
        200,
        'HEAD answered directly',
      );
    },
  );

  await t.test(
    'kill -9 mid-upload leaves no wrong object; the session continues on another instance; gc clears the debris',
    async (t) => {
      const victim = await instance();
      const data = randomBytes(40 << 20);
      const d = sha256(data);
      const post = await http(victim.origin, '/v2/e2e/crash/blobs/uploads/', { method: 'POST' });
      const loc = post.headers.location!;
      // docker-style streamed PATCH, slowly; and a monolithic POST of the same blob.
      const stream = (path: string, method: string, headers: Record<string, string | number>) => {
        const req = request({
          host: '127.0.0.1',
          port: victim.port,
          path,
          method,
          headers,
          agent: false,
        });
        const done = new Promise<number | string>((resolve) => {
          req.on('response', (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
        });
        // Sending stops halfway: the kill must come while both bodies are incomplete, however
        // long a loaded machine takes to start the multipart uploads for what it has read.
        let off = 0;
        const pump = () => {
          if (off < data.length / 2) {
            req.write(data.subarray(off, off + (1 << 20)));
            off += 1 << 20;
            setTimeout(pump, 20);
          }
        };
        pump();
        return { done, sent: () => off };
      };
      const patch = stream(loc, 'PATCH', { 'content-type': 'application/octet-stream' });
      const mono = stream(`/v2/e2e/crash/blobs/uploads/?digest=${d}`, 'POST', { 'content-length': data.length });
      while (patch.sent() < 20 << 20) await new Promise((r) => setTimeout(r, 20));
      const uploads = async () =>
        (await swift.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      let started = await uploads();
      for (let i = 0; i < 150 && started.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        started = await uploads();
      }
      t.ok(started.length > 0, 'multipart uploads are under way');
      await victim.stop('SIGKILL');
      t.not(await patch.done, 202);
      t.not(await mono.done, 201);
      t.equal(
        (await http(a.origin, `/v2/e2e/crash/blobs/${d}`, { method: 'HEAD' })).status,
        404,
        'nothing visible at the digest',
      );
      t.same(await wrongObjects(), [], 'every object at a digest key hashes to it');
      // The session is intact at its last whole chunk (none here) and continues elsewhere.
      const st = await http(a.origin, loc);
      t.equal(st.status, 204);
      t.equal(st.headers.range, '0-0', 'the interrupted chunk is not part of the session');
      const rest = await http(b.origin, loc, {
        method: 'PATCH',
        body: data,
        headers: { 'content-range': `0-${data.length - 1}`, 'content-length': data.length },
      });
      t.equal(rest.status, 202);
      t.equal((await http(a.origin, `${loc}?digest=${d}`, { method: 'PUT' })).status, 201);
      t.ok((await http(b.origin, `/v2/e2e/crash/blobs/${d}`)).body.equals(data));
      t.same(await wrongObjects(), []);
      // The killed requests' multipart uploads belong to no session: gc aborts them.
      await new Promise((r) => setTimeout(r, 1100));
      await execFileP(process.execPath, [PORTCULLIS_BIN, 'gc', ...s3Args, '--grace-period', '0s', '--dry-run'], {
        env: { ...process.env, ...swift.env },
      });
      t.ok((await uploads()).length > 0, 'dry run aborts nothing');
      await execFileP(process.execPath, [PORTCULLIS_BIN, 'gc', ...s3Args, '--grace-period', '1h'], {
        env: { ...process.env, ...swift.env },
      });
      t.ok((await uploads()).length > 0, 'young debris is kept');
    },
  );

  await t.test('skopeo delete, then portcullis gc on the bucket reclaims what nothing reaches', async (t) => {
    await skopeo(['delete', '--tls-verify=false', `docker://${a.host}/e2e/multi:m`]);
    await t.rejects(
      skopeo(['inspect', '--tls-verify=false', `docker://${b.host}/e2e/multi:m`]),
      'deleted image is gone on the other instance too',
    );
    await new Promise((r) => setTimeout(r, 1100)); // S3 Last-Modified has whole seconds
    const gc = async (...extra: string[]) =>
      (
        await execFileP(process.execPath, [PORTCULLIS_BIN, 'gc', ...s3Args, '--grace-period', '0s', ...extra], {
          env: { ...process.env, ...swift.env },
        })
      ).stdout.trim();
    const dry = await gc('--dry-run');
    const real = await gc();
    t.equal(
      real.replace('would delete', 'deleted'),
      dry.replace(' (dry run)', '').replace('would delete', 'deleted'),
      'dry run predicted the real run',
    );
    const m = /deleted (\d+) blobs \(([\d.]+) MiB\)/.exec(real)!;
    t.ok(Number(m[1]) >= 5 && Number(m[2]) >= 2, real);
    t.same(
      (await swift.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [],
      [],
      'abandoned multipart uploads aborted',
    );
    const back = join(work, 'after-gc');
    await skopeoPull(`${b.host}/e2e/app:v1`, `${back}:v1`);
    t.same(await blobsNotMatching(back, img.blobs), [], 'the tagged image still pulls whole');
    const bad = await execFileP(
      process.execPath,
      [PORTCULLIS_BIN, 'gc', '--storage', 's3://no-such-bucket/x', '--s3-endpoint', swift.endpoint],
      { env: { ...process.env, ...swift.env } },
    ).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    t.match(
      bad.trim(),
      /^portcullis gc: S3 bucket "no-such-bucket" does not exist at http:\S+$/,
      'one-line error for a missing bucket',
    );
  });

  await t.test('the same push and pull on filesystem storage, for comparison', async (t) => {
    const { host } = await portcullisFor(t, ['--storage', join(work, 'fsdata'), '--access-log', 'off']);
    let t0 = Date.now();
    await skopeoPush(`${img.dir}:v1`, `${host}/e2e/app:v1`);
    const push = Date.now() - t0;
    t0 = Date.now();
    await skopeoPull(`${host}/e2e/app:v1`, `${join(work, 'fs-back')}:v1`);
    const pull = Date.now() - t0;
    // The comparison is only worth printing if the same image came back.
    t.same(
      await blobsNotMatching(join(work, 'fs-back'), img.blobs),
      [],
      'every blob identical on filesystem storage too',
    );
    timings.push(`filesystem: push ${push} ms (${mb(push)} MB/s), pull ${pull} ms (${mb(pull)} MB/s)`);
    for (const line of timings) t.comment(line);
  });
}
