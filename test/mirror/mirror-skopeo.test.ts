/**
 * portcullis as a pull-through mirror, with real parts: the remote is registry:2 behind a
 * second portcullis that demands a token (so the mirror does the Bearer realm/service/scope
 * dance with the credentials from --mirror-credentials), and the client is skopeo.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { blobsNotMatching, fileDigest, makeOciImage } from '../helpers/oci-image.js';
import {
  fetchInsecure,
  freePort,
  hasCommand,
  removeDir,
  skopeo,
  startPortcullis,
  tempDir,
  type Running,
} from '../helpers/processes.js';
import { REMOTE_PASSWORD, startRemote, writeCredentials } from '../helpers/mirror-remote.js';

const TTL_S = 4;

if (!hasCommand('skopeo') || !hasCommand('htpasswd')) {
  t.plan(0, 'skopeo and htpasswd are needed');
} else {
  const work = await tempDir('portcullis-mirror-');
  const remote = await startRemote();
  t.teardown(async () => {
    await remote.stop();
    await removeDir(work);
  });
  const storage = join(work, 'storage');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const creds = await writeCredentials(work, 'hub');
  const mirror: Running = await startPortcullis(
    [
      '--listen',
      host,
      '--storage',
      storage,
      '--mirror',
      `hub=${remote.url}`,
      '--mirror-credentials',
      creds,
      '--mirror-tag-ttl',
      `${TTL_S}s`,
      '--log-level',
      'info',
      '--access-log',
      'off',
    ],
    { probe: `http://${host}/_ping` },
  );
  t.teardown(() => mirror.stop());

  const img = await makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [8 << 20, 1 << 20, 10_000] });
  await remote.push(img.dir, 'v1', 'library/app:v1');

  const pull = async (ref: string, dir: string) =>
    skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/${ref}`, `oci:${dir}:v1`]);
  const manifestHead = (ref: string, tag: string) =>
    fetchInsecure(`http://${host}/v2/${ref}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });

  await t.test(
    'skopeo pulls through the mirror byte for byte; the second pull asks the remote for no blob',
    async (t) => {
      const first = join(work, 'pull1');
      await pull('hub/library/app:v1', first);
      t.same(
        await blobsNotMatching(first, [img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)]),
        [],
        'every blob pulled through the mirror hashes to its digest',
      );
      const afterFirst = await remote.blobGets();
      t.equal(afterFirst, 1 + img.layers.length, 'the first pull fetched config and layers from the remote once each');

      const second = join(work, 'pull2');
      await pull('hub/library/app:v1', second);
      t.same(
        await blobsNotMatching(
          second,
          img.layers.map((l) => l.digest),
        ),
        [],
        'second pull: same bytes',
      );
      t.equal(await remote.blobGets(), afterFirst, 'the second pull made no blob request to the remote');

      const head = await manifestHead('hub/library/app', 'v1');
      t.equal(head.headers['docker-content-digest'], img.manifest.digest, 'the tag resolves to the remote digest');
      t.notMatch(mirror.output(), REMOTE_PASSWORD, 'the remote password is never logged');
      t.match(mirror.output(), /mirror: blob cached/, 'the log says what was cached');
    },
  );

  await t.test('pushes and deletes under the mirror prefix are refused with a registry error', async (t) => {
    const push = await skopeo([
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${img.dir}:v1`,
      `docker://${host}/hub/library/mine:v1`,
    ]).then(
      () => null,
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    t.ok(push, 'skopeo copy into the mirror prefix fails');
    t.match(push, /pull-through mirror of http:\/\/127\.0\.0\.1:\d+: pushes and deletes are refused/, 'and says why');
    const del = await fetchInsecure(`http://${host}/v2/hub/library/app/manifests/${img.manifest.digest}`, {
      method: 'DELETE',
    });
    t.equal(del.status, 403, 'DELETE under the prefix: 403');
    t.equal(JSON.parse(del.body).errors[0].code, 'DENIED', 'with the DENIED registry error');
    // Outside the prefix the registry is an ordinary one.
    await skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://${host}/own/app:v1`]);
    t.equal((await manifestHead('own/app', 'v1')).status, 200, 'pushing outside the prefix works');
  });

  await t.test('a tag moved on the remote shows after the TTL and not before', async (t) => {
    const moved = await makeOciImage(join(work, 'img2'), { tag: 'v1', layerSizes: [2000] });
    // The earlier pulls validated the tag; once that TTL is over, the next HEAD revalidates it
    // and a new TTL starts. Measuring from a HEAD inside the old TTL would leave less time than
    // the test assumes (a busy machine then sees the move early).
    await new Promise((r) => setTimeout(r, TTL_S * 1000 + 200));
    const t0 = Date.now();
    const checked = await manifestHead('hub/library/app', 'v1');
    t.equal(
      checked.headers['x-portcullis-mirror'],
      'revalidated',
      'the tag is checked with the remote: the TTL starts',
    );
    t.equal(checked.headers['docker-content-digest'], img.manifest.digest);
    await remote.push(moved.dir, 'v1', 'library/app:v1');
    const before = await manifestHead('hub/library/app', 'v1');
    const elapsed = Date.now() - t0;
    t.ok(elapsed < TTL_S * 1000, `still inside the TTL (${elapsed} ms)`);
    t.equal(before.headers['docker-content-digest'], img.manifest.digest, 'inside the TTL: the cached digest');
    t.equal(before.headers['x-portcullis-mirror'], 'hit', 'served from the cache');
    await new Promise((r) => setTimeout(r, TTL_S * 1000 - elapsed + 200));
    const after = await manifestHead('hub/library/app', 'v1');
    t.equal(after.headers['docker-content-digest'], moved.manifest.digest, 'after the TTL: the new digest');
    t.equal(after.headers['x-portcullis-mirror'], 'miss', 'fetched from the remote');
    const pulled = join(work, 'pull-moved');
    await pull('hub/library/app:v1', pulled);
    t.same(
      await blobsNotMatching(
        pulled,
        moved.layers.map((l) => l.digest),
      ),
      [],
      'and the moved image pulls',
    );
  });

  await t.test('remote down: cached images still pull (stale, said so), uncached ones fail clearly', async (t) => {
    const other = await makeOciImage(join(work, 'img3'), { tag: 'v1', layerSizes: [3000] });
    await remote.push(other.dir, 'v1', 'library/other:v1');
    await remote.stopGateway();
    t.teardown(() => remote.startGateway());
    await new Promise((r) => setTimeout(r, TTL_S * 1000 + 200)); // the cached tag is due for a check
    const head = await manifestHead('hub/library/app', 'v1');
    t.equal(head.status, 200, 'cached tag answers');
    t.equal(head.headers['x-portcullis-mirror'], 'stale', 'marked stale in a header');
    t.match(String(head.headers.warning), /110/, 'and a Warning: 110 header');
    const dir = join(work, 'pull-down');
    await pull('hub/library/app:v1', dir);
    t.same(
      await readdir(join(dir, 'blobs', 'sha256')).then((x) => x.length > 0),
      true,
      'skopeo pulled the cached image',
    );
    t.match(mirror.output(), /serving the cached tag \(stale\)/, 'the log says it served stale');

    const failed = await pull('hub/library/other:v1', join(work, 'pull-other')).then(
      () => null,
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    t.ok(failed, 'an image never pulled before cannot be pulled');
    t.match(failed, /503 Service Unavailable/, 'skopeo reports the 503');
    const why = await fetchInsecure(`http://${host}/v2/hub/library/other/manifests/v1`);
    t.equal(why.status, 503, 'the manifest GET answers 503');
    t.match(
      JSON.parse(why.body).errors[0],
      { code: 'UNAVAILABLE', message: /unreachable.*not cached/ },
      'with a registry error saying the remote is unreachable and the image is not cached',
    );
  });

  await t.test('8 concurrent pulls of one uncached 64 MiB layer fetch it from the remote once', async (t) => {
    const big = await makeOciImage(join(work, 'big'), { tag: 'v1', layerSizes: [64 << 20] });
    await remote.push(big.dir, 'v1', 'library/big:v1');
    const layer = big.layers[0]!.digest;
    const before = await remote.blobGets(layer);
    const sums = await Promise.all(
      Array.from({ length: 8 }, () => download(`http://${host}/v2/hub/library/big/blobs/${layer}`)),
    );
    t.same(
      sums.map((s) => s.digest),
      Array(8).fill(layer),
      'all 8 clients got the whole layer, byte for byte',
    );
    t.equal((await remote.blobGets(layer)) - before, 1, 'the remote served the layer once');
  });

  await t.test('a client aborting mid-layer leaves nothing half-written', async (t) => {
    const img4 = await makeOciImage(join(work, 'abort'), { tag: 'v1', layerSizes: [64 << 20] });
    await remote.push(img4.dir, 'v1', 'library/abort:v1');
    const layer = img4.layers[0]!.digest;
    const blobPath = join(storage, 'blobs', 'sha256', layer.slice(7, 9), layer.slice(7));
    const got = await download(`http://${host}/v2/hub/library/abort/blobs/${layer}`, 8 << 20);
    t.ok(got.bytes >= 8 << 20 && got.bytes < 64 << 20, `client hung up after ${got.bytes} bytes`);
    // Until the fetch finishes, the blob is not visible at all; afterwards it is whole.
    const deadline = Date.now() + 60_000;
    let leftovers: string[] = [];
    const partial: string[] = [];
    for (;;) {
      const exists = await fileDigest(blobPath).catch(() => null);
      if (exists !== null && exists !== layer) partial.push(exists);
      leftovers = [
        ...(await readdir(join(storage, 'tmp')).catch(() => [])).filter((f) => f.startsWith('mirror-')),
        ...(await readdir(join(storage, 'uploads')).catch(() => [])),
      ];
      if (exists && leftovers.length === 0) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    t.same(partial, [], 'while the fetch went on, the blob was absent or whole, never partial');
    t.same(leftovers, [], 'no spool file or upload session is left behind');
    t.equal(await fileDigest(blobPath), layer, 'the fetch went on and cached the whole, verified layer');
    const again = await download(`http://${host}/v2/hub/library/abort/blobs/${layer}`);
    t.equal(again.digest, layer, 'the next client gets it');
    t.equal(await remote.blobGets(layer), 1, 'from the cache, without a second remote fetch');
  });
}

/** GET a URL and hash the body; with `stopAfter`, hang up once that many bytes arrived. */
async function download(url: string, stopAfter?: number): Promise<{ digest: string; bytes: number }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`));
      res.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        if (stopAfter !== undefined && bytes >= stopAfter) {
          req.destroy();
          resolve({ digest: '', bytes });
        }
      });
      res.on('end', () => resolve({ digest: `sha256:${hash.digest('hex')}`, bytes }));
      res.on('error', reject);
    });
    req.on('error', (e) => (stopAfter !== undefined ? undefined : reject(e)));
  });
}
