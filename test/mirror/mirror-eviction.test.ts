/**
 * The mirror cache's budget: `portcullis gc --mirror-max-size` evicts the least recently pulled
 * mirrored images until the cache fits, and never touches a pushed image, even one sharing a
 * layer with an evicted mirrored image. Also the per-mirror metrics on /metrics.
 */
import t from 'tap';
import { join } from 'node:path';
import { blobsNotMatching, fileDigest, makeOciImage } from '../helpers/oci-image.js';
import {
  execFileP,
  fetchInsecure,
  freePort,
  hasCommand,
  PORTCULLIS_BIN,
  removeDir,
  skopeo,
  startPortcullis,
  tempDir,
} from '../helpers/processes.js';
import { startRemote, writeCredentials } from '../helpers/mirror-remote.js';

const MiB = 1 << 20;

if (!hasCommand('skopeo') || !hasCommand('htpasswd')) {
  t.plan(0, 'skopeo and htpasswd are needed');
} else {
  const work = await tempDir('portcullis-mirror-evict-');
  const remote = await startRemote();
  t.teardown(async () => {
    await remote.stop();
    await removeDir(work);
  });
  const storage = join(work, 'storage');
  const host = `127.0.0.1:${await freePort()}`;
  const mirrorFlag = `hub=${remote.url}`;
  const creds = await writeCredentials(work, 'hub');
  const serve = (extra: string[] = []) =>
    startPortcullis(
      [
        '--listen',
        host,
        '--storage',
        storage,
        '--mirror',
        mirrorFlag,
        '--mirror-credentials',
        creds,
        '--access-log',
        'off',
        ...extra,
      ],
      { probe: `http://${host}/_ping` },
    );
  let mirror = await serve();
  t.teardown(() => mirror.stop());

  const a = await makeOciImage(join(work, 'a'), { tag: 'v1', layerSizes: [4 * MiB] });
  const b = await makeOciImage(join(work, 'b'), { tag: 'v1', layerSizes: [4 * MiB] });
  const c = await makeOciImage(join(work, 'c'), { tag: 'v1', layerSizes: [4 * MiB] });
  for (const [img, name] of [
    [a, 'a'],
    [b, 'b'],
    [c, 'c'],
  ] as const)
    await remote.push(img.dir, 'v1', `library/${name}:v1`);
  // Our own image, pushed to portcullis, sharing its layer with the mirrored library/a.
  await skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${a.dir}:v1`, `docker://${host}/own/app:v1`]);

  const pull = (ref: string, dir: string) =>
    skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/${ref}`, `oci:${dir}:v1`]);
  const blobFile = (d: string) => join(storage, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));
  const present = async (d: string) => (await fileDigest(blobFile(d)).catch(() => null)) === d;
  const gc = (args: string[]) =>
    execFileP(process.execPath, [PORTCULLIS_BIN, 'gc', '--storage', storage, '--mirror', mirrorFlag, ...args]);

  await t.test('over budget, gc evicts the least recently pulled mirrored image, never a pushed one', async (t) => {
    await pull('hub/library/a:v1', join(work, 'pa'));
    await pull('hub/library/b:v1', join(work, 'pb'));
    await pull('hub/library/c:v1', join(work, 'pc'));
    await new Promise((r) => setTimeout(r, 1100));
    await pull('hub/library/a:v1', join(work, 'pa2')); // a is now the most recently pulled
    for (const img of [a, b, c]) t.ok(await present(img.layers[0]!.digest), 'layer cached');

    const dry = await gc(['--dry-run', '--mirror-max-size', '6MiB']);
    t.match(dry.stdout, /mirror eviction \(dry run\): cache 8\.\d MiB -> 4\.\d MiB \(budget 6\.0 MiB\); 1 manifests/);
    t.ok(await present(b.layers[0]!.digest), 'a dry run deletes nothing');

    const run = await gc(['--mirror-max-size', '6MiB']);
    t.match(
      run.stdout,
      /mirror eviction: cache 8\.\d MiB -> 4\.\d MiB \(budget 6\.0 MiB\)/,
      'cache brought under the budget',
    );
    t.notOk(await present(b.layers[0]!.digest), 'the least recently pulled image (b) is evicted');
    t.ok(await present(c.layers[0]!.digest), 'c stays');
    t.ok(await present(a.layers[0]!.digest), 'a stays (pulled last)');
    const after = await gc(['--dry-run', '--mirror-max-size', '6MiB']);
    t.match(after.stdout, /cache 4\.\d MiB -> 4\.\d MiB .* 0 manifests and 0 blobs evicted/, 'now within budget');

    // The tightest budget evicts every mirrored image, and still not the pushed one.
    await gc(['--mirror-max-size', '0']);
    t.notOk(await present(c.layers[0]!.digest), 'budget 0: c evicted too');
    t.ok(await present(a.layers[0]!.digest), 'the layer own/app shares with library/a is kept');
    const own = join(work, 'own');
    await pull('own/app:v1', own);
    t.same(
      await blobsNotMatching(own, [a.manifest.digest, a.config.digest, a.layers[0]!.digest]),
      [],
      'the pushed image still pulls whole, byte for byte',
    );

    // An evicted image is simply fetched again.
    const before = await remote.blobGets(b.layers[0]!.digest);
    await pull('hub/library/b:v1', join(work, 'pb2'));
    t.equal(
      await remote.blobGets(b.layers[0]!.digest),
      before + 1,
      'an evicted image is fetched again on the next pull',
    );
  });

  await t.test('metrics per mirror: hits, misses, bytes from the remote, cache size', async (t) => {
    const m = (await fetchInsecure(`http://${host}/metrics`)).body;
    const value = (name: string) =>
      Number(new RegExp(`^portcullis_${name}\\{mirror="hub",remote="[^"]+"\\} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN);
    t.ok(value('mirror_hits_total') >= 3, `hits counted (${value('mirror_hits_total')})`);
    t.ok(value('mirror_misses_total') >= 9, `misses counted (${value('mirror_misses_total')})`);
    // b twice and c: a's layer was already here (own/app), so only confirmed with a HEAD, not fetched.
    const bytes = value('mirror_remote_bytes_total');
    t.ok(
      bytes >= 12 * MiB && bytes < 13 * MiB,
      `bytes from the remote: three 4 MiB layers and small documents (${bytes})`,
    );
    t.equal(value('mirror_stale_total'), 0, 'no stale serves');
    t.ok(value('mirror_cache_bytes') > 0, `cache size reported (${value('mirror_cache_bytes')})`);

    // The dashboard's first event carries the same figures for its "Registry backend" card.
    const init = await firstEvent(`http://${host}/-/stats/events`);
    t.match(
      init.state.mirrors,
      [{ prefix: 'hub', remote: remote.url, hits: value('mirror_hits_total'), misses: value('mirror_misses_total') }],
      'the dashboard state lists the mirror with its hits and misses',
    );
  });

  await t.test('the server itself keeps the cache under --mirror-max-size', async (t) => {
    t.ok(await present(b.layers[0]!.digest), 'b is cached again');
    await mirror.stop();
    mirror = await serve(['--mirror-max-size', '0', '--log-level', 'info']);
    const deadline = Date.now() + 15_000;
    while ((await present(b.layers[0]!.digest)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    t.notOk(await present(b.layers[0]!.digest), 'the mirrored image was evicted by the running server');
    t.match(mirror.output(), /mirror: cache trimmed to its budget/, 'and it logged so');
    t.ok(await present(a.layers[0]!.digest), 'the pushed image is untouched');
  });
}

/** The `init` event of the dashboard's event stream. */
async function firstEvent(url: string): Promise<{ state: { mirrors: unknown[] } }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
        const m = /event: init\ndata: (.*)\n\n/.exec(text);
        if (m) {
          req.destroy();
          resolve(JSON.parse(m[1]!));
        }
      });
    });
    req.on('error', reject);
  });
}
