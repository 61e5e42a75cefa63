/**
 * Two portcullis processes with the embedded core on one storage directory: an
 * upload whose POST, PATCHes and PUT alternate between them succeeds; the same blob pushed
 * through both at once is stored once and intact; each sees the other's tags at once.
 */
import t from 'tap';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { makeOciImage, fileDigest } from '../helpers/oci-image.js';
import { startPortcullis, freePort, tempDir, removeDir, skopeo, fetchInsecure } from '../helpers/processes.js';
import { readdir } from 'node:fs/promises';

t.test('two instances, one storage directory', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const storage = join(work, 'shared');
  const ports = [await freePort(), await freePort()];
  const bases = ports.map((p) => `http://127.0.0.1:${p}`);
  for (const p of ports) {
    const gw = await startPortcullis(['--storage', storage, '--listen', `127.0.0.1:${p}`], {
      probe: `http://127.0.0.1:${p}/_ping`,
    });
    t.teardown(() => gw.stop());
  }

  // An upload that alternates: POST on A, PATCH on B, PATCH on A, PUT on B.
  const parts = [randomBytes(3 << 20), randomBytes(2 << 20)];
  const digest = `sha256:${createHash('sha256').update(parts[0]!).update(parts[1]!).digest('hex')}`;
  const post = await fetchInsecure(`${bases[0]}/v2/shared/app/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  t.equal(post.status, 202);
  let location = post.headers.location!;
  let offset = 0;
  for (const [i, part] of parts.entries()) {
    const r = await fetchInsecure(new URL(location, bases[(i + 1) % 2]).href, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + part.length - 1}` },
      body: part,
    });
    t.equal(r.status, 202, `PATCH ${i} on instance ${(i + 1) % 2}`);
    offset += part.length;
    location = r.headers.location!;
  }
  const put = await fetchInsecure(
    new URL(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, bases[1]).href,
    { method: 'PUT', headers: { 'content-length': '0' } },
  );
  t.equal(put.status, 201, 'PUT on the other instance commits the upload');
  const back = await fetchInsecure(`${bases[0]}/v2/shared/app/blobs/${digest}`, { method: 'HEAD' });
  t.equal(back.status, 200);
  t.equal(back.headers['content-length'], String(5 << 20));

  // The same image pushed through both at once.
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [24 << 20, 1 << 20] });
  await Promise.all(
    ports.map((p, i) =>
      skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${image.dir}:latest`,
        `docker://127.0.0.1:${p}/shared/race:v${i}`,
      ]),
    ),
  );
  // Content-addressed: the big layer exists once, under its digest, whole.
  const big = image.layers[0]!.digest.slice(7);
  const copies = (await readdir(join(storage, 'blobs', 'sha256'), { recursive: true })).filter((f) => f.endsWith(big));
  t.equal(copies.length, 1, 'the layer pushed twice at once is stored once');
  t.equal(await fileDigest(join(storage, 'blobs', 'sha256', copies[0]!)), image.layers[0]!.digest, 'and intact');
  for (const [i, p] of ports.entries()) {
    const out = join(work, `out${i}`);
    await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${p}/shared/race:v${1 - i}`, `oci:${out}:v1`]);
    for (const l of image.layers)
      t.equal(
        await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))),
        l.digest,
        `instance ${i} serves the other's push intact`,
      );
  }
  const tags = JSON.parse((await fetchInsecure(`${bases[1]}/v2/shared/race/tags/list`)).body);
  t.same(tags.tags.sort(), ['v0', 'v1'], 'tags from both instances');
});
