/**
 * Several registry:2 members behind one portcullis: health shown in /_status, a
 * killed member is skipped for pulls, upload sessions stay on the member that started them
 * (even when each request of the upload lands on another portcullis instance), and a client
 * whose upload member died is told BLOB_UPLOAD_UNKNOWN instead of hanging.
 */
import t from 'tap';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { makeOciImage, fileDigest } from '../helpers/oci-image.js';
import {
  startRegistry2,
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
} from '../helpers/processes.js';

interface Status {
  services: { name: string; healthy: boolean }[];
  failures: Record<string, string>;
}

async function status(base: string): Promise<{ code: number; doc: Status }> {
  const r = await fetchInsecure(`${base}/_status`);
  return { code: r.status, doc: JSON.parse(r.body) };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('shared storage: a member killed and restarted, pulls keep working, health visible', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const shared = join(work, 'storage');
  const a = await startRegistry2({ root: shared, secret: 's3cret' });
  let b = await startRegistry2({ root: shared, secret: 's3cret' });
  t.teardown(() => a.stop());
  t.teardown(() => b.stop());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--upstream', a.url, '--upstream', b.url, '--listen', `127.0.0.1:${port}`, '--health-interval', '500ms'],
    { probe: `${base}/_ping` },
  );
  t.teardown(() => gw.stop());

  const image = await makeOciImage(join(work, 'img'), { layerSizes: [16 << 20, 1 << 20, 1024] });
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:latest`, `docker://127.0.0.1:${port}/ha/app:v1`]);
  t.equal((await status(base)).code, 200);

  await b.stop('SIGKILL');
  await until('member b marked down', async () =>
    (await status(base)).doc.services.some((s) => s.name === `127.0.0.1:${b.port}` && !s.healthy),
  );
  const down = await status(base);
  t.equal(down.code, 503, '/_status says a service is down');
  t.ok(down.doc.failures[`127.0.0.1:${b.port}`], 'and names it');

  const out = join(work, 'out');
  await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${port}/ha/app:v1`, `oci:${out}:v1`]);
  for (const l of image.layers)
    t.equal(
      await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))),
      l.digest,
      'pulled intact with one member down',
    );

  b = await startRegistry2({ root: shared, secret: 's3cret', port: b.port });
  await until('member b healthy again', async () => (await status(base)).code === 200);
  t.pass('restarted member re-probed and back in rotation');
});

t.test('separate storage: uploads stick to their member; a dead member gives BLOB_UPLOAD_UNKNOWN', async (t) => {
  const a = await startRegistry2();
  const b = await startRegistry2();
  t.teardown(() => a.stop());
  t.teardown(() => b.stop());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--upstream', a.url, '--upstream', b.url, '--listen', `127.0.0.1:${port}`, '--health-interval', '1h'],
    { probe: `${base}/_ping` },
  );
  t.teardown(() => gw.stop());
  // A second instance with the members listed the other way round, sharing nothing with the first.
  const port2 = await freePort();
  const base2 = `http://127.0.0.1:${port2}`;
  const gw2 = await startPortcullis(
    ['--upstream', b.url, '--upstream', a.url, '--listen', `127.0.0.1:${port2}`, '--health-interval', '1h'],
    { probe: `${base2}/_ping` },
  );
  t.teardown(() => gw2.stop());

  // Several chunked uploads: each POST, PATCH, PATCH, PUT must land on one member, or
  // registry:2 would answer "blob upload unknown" for the PATCH (docs/pitfalls.md: "Uploads must stick to one member"). The odd ones
  // alternate between the two instances, as a round-robin load balancer would send them.
  for (let i = 0; i < 6; i++) {
    const next = i % 2 ? base2 : base;
    const then = base;
    const part1 = Buffer.alloc(1 << 20, i);
    const part2 = Buffer.alloc(1 << 19, i + 1);
    const digest = `sha256:${createHash('sha256').update(part1).update(part2).digest('hex')}`;
    const post = await fetchInsecure(`${base}/v2/sticky/app/blobs/uploads/`, {
      method: 'POST',
      headers: { 'content-length': '0' },
    });
    t.equal(post.status, 202);
    t.notOk(
      [a.port, b.port].some((p) => post.headers.location!.includes(`:${p}/`)),
      'the Location names no member address',
    );
    const p1 = await fetchInsecure(new URL(post.headers.location!, next).href, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${part1.length - 1}` },
      body: part1,
    });
    t.equal(p1.status, 202, `upload ${i}: first PATCH reaches the member holding the session`);
    const p2 = await fetchInsecure(new URL(p1.headers.location!, then).href, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `${part1.length}-${part1.length + part2.length - 1}`,
      },
      body: part2,
    });
    t.equal(p2.status, 202);
    const loc = new URL(p2.headers.location!, next);
    loc.searchParams.set('digest', digest);
    const put = await fetchInsecure(loc.href, { method: 'PUT', headers: { 'content-length': '0' } });
    t.equal(put.status, 201, `upload ${i} committed`);
  }

  // A forged member value names no configured member: the request is balanced as usual, never sent elsewhere.
  const forged = await fetchInsecure(`${base}/v2/sticky/app/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  const forgedLoc = new URL(forged.headers.location!, base);
  forgedLoc.searchParams.set('_member', 'not-a-member');
  const forgedPatch = await fetchInsecure(forgedLoc.href, {
    method: 'PATCH',
    headers: { 'content-range': '0-9' },
    body: Buffer.alloc(10),
  });
  t.ok([202, 404].includes(forgedPatch.status), `forged member value: ${forgedPatch.status}, from a configured member`);

  // Start an upload, kill the member that holds it, continue: a clear error, not a hang.
  const post = await fetchInsecure(`${base}/v2/sticky/app/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  const patch = await fetchInsecure(new URL(post.headers.location!, base).href, {
    method: 'PATCH',
    headers: { 'content-range': '0-9' },
    body: Buffer.alloc(10),
  });
  t.equal(patch.status, 202);
  const probeA = await fetchInsecure(
    `${a.url}/v2/sticky/app/blobs/uploads/${/uploads\/([^?]+)/.exec(post.headers.location!)![1]}`,
  );
  const holder = probeA.status === 204 ? a : b;
  await holder.stop('SIGKILL');
  const after = await fetchInsecure(new URL(patch.headers.location!, base).href, {
    method: 'PATCH',
    headers: { 'content-range': '10-19' },
    body: Buffer.alloc(10),
  });
  t.equal(after.status, 404);
  t.equal(JSON.parse(after.body).errors[0].code, 'BLOB_UPLOAD_UNKNOWN', 'the client is told to restart the upload');
  const fresh = await fetchInsecure(`${base}/v2/sticky/app/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  t.equal(fresh.status, 202, 'a restarted upload goes to the surviving member');
});
