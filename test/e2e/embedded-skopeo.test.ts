/**
 * End to end with the real skopeo against the embedded registry core (served alone by the
 * test fixture): push a generated multi-layer image with a 64 MiB layer, pull it back and
 * compare every blob, inspect, list-tags, copy between repositories (mount), multi-arch
 * `--all`, delete, gc. Also checks the server's memory stays flat while 64 MiB stream through.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blobsNotMatching, makeOciImage } from '../helpers/oci-image.js';
import { freePort, hasCommand, removeDir, skopeo, startProcess, tempDir, waitForHttp } from '../helpers/processes.js';
import { collectGarbage } from '../../src/registry/index.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'registry', 'fixtures', 'serve-core.js');
/** 64 MiB in CI; PORTCULLIS_E2E_LAYER_MB=1024 measures a 1 GiB layer by hand. */
const LAYER = Number(process.env.PORTCULLIS_E2E_LAYER_MB ?? 64) << 20;

if (!hasCommand('skopeo')) {
  t.plan(0, 'skopeo is not installed');
} else {
  const work = await tempDir('portcullis-e2e-skopeo-');
  const storage = join(work, 'data');
  const port = await freePort();
  const srv = startProcess(process.execPath, [FIXTURE, String(port), storage], {
    env: { PORTCULLIS_CORE_LOG_REQUESTS: '1' },
  });
  t.teardown(async () => {
    await srv.stop();
    await removeDir(work);
  });
  const host = `127.0.0.1:${port}`;
  await waitForHttp(`http://${host}/v2/`, 20_000, srv);
  const hwm = async () =>
    Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${srv.pid}/status`, 'utf8'))![1]) * 1024;
  const startHwm = await hwm();
  const img = await makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [LAYER, 1 << 20, 10_000] });
  const timings: Record<string, number> = {};

  await t.test('skopeo pushes a multi-layer image (64 MiB layer) and pulls it back blob for blob', async (t) => {
    let t0 = Date.now();
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--preserve-digests',
      `oci:${img.dir}:v1`,
      `docker://${host}/e2e/app:v1`,
    ]);
    timings.push64MiB = Date.now() - t0;
    t0 = Date.now();
    const back = join(work, 'back');
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--preserve-digests',
      `docker://${host}/e2e/app:v1`,
      `oci:${back}:v1`,
    ]);
    timings.pull64MiB = Date.now() - t0;
    t.same(await blobsNotMatching(back, img.blobs), [], 'every blob (manifest, config, layers) identical');
    // Buffering either body would add >= 64 MiB; streaming measured ~33-43 MiB (GC slack) even at 512 MiB.
    const grown = (await hwm()) - startHwm;
    t.ok(
      grown < 60 << 20,
      `server peak RSS grew ${(grown / 1048576).toFixed(1)} MiB while ${LAYER >> 20} MiB went through each way (streamed, not buffered)`,
    );
    t.comment(`push ${LAYER >> 20} MiB image: ${timings.push64MiB} ms, pull: ${timings.pull64MiB} ms`);
  });

  await t.test('skopeo inspect and list-tags see the image', async (t) => {
    const info = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${host}/e2e/app:v1`])).stdout);
    t.equal(info.Digest, img.manifest.digest);
    t.same(
      info.Layers,
      img.layers.map((l) => l.digest),
    );
    const raw = JSON.parse(
      (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/e2e/app:v1`])).stdout,
    );
    t.equal(raw.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/e2e/app`])).stdout);
    t.same(tags.Tags, ['v1']);
  });

  await t.test('skopeo copy between repositories mounts blobs instead of re-uploading them', async (t) => {
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--preserve-digests',
      `docker://${host}/e2e/app:v1`,
      `docker://${host}/e2e/copy:v1`,
    ]);
    const log = srv.output();
    const big = img.layers[0]!.digest.slice(7);
    t.match(
      log,
      new RegExp(`^POST /v2/e2e/copy/blobs/uploads/\\?\\S*mount=sha256(:|%3A)${big}\\S* 201$`, 'm'),
      'the big layer was mounted (201)',
    );
    t.notMatch(log, new RegExp(`^PUT /v2/e2e/copy/blobs/uploads/\\S*${big}`, 'm'), 'and not uploaded again');
    const info = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${host}/e2e/copy:v1`])).stdout);
    t.equal(info.Digest, img.manifest.digest);
  });

  await t.test('skopeo copy --all pushes and pulls a multi-arch index', async (t) => {
    const multi = await makeOciImage(join(work, 'multi'), {
      tag: 'm',
      layerSizes: [1 << 20],
      archs: ['amd64', 'arm64'],
    });
    await skopeo([
      'copy',
      '--all',
      '--dest-tls-verify=false',
      '--preserve-digests',
      `oci:${multi.dir}:m`,
      `docker://${host}/e2e/multi:m`,
    ]);
    const raw = JSON.parse(
      (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/e2e/multi:m`])).stdout,
    );
    t.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
    t.same(
      raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
      ['amd64', 'arm64'],
    );
    const back = join(work, 'multi-back');
    await skopeo([
      'copy',
      '--all',
      '--src-tls-verify=false',
      '--preserve-digests',
      `docker://${host}/e2e/multi:m`,
      `oci:${back}:m`,
    ]);
    t.same(await blobsNotMatching(back, multi.blobs), [], 'index, both manifests, configs and layers identical');
    const arm = JSON.parse(
      (await skopeo(['inspect', '--override-arch', 'arm64', '--tls-verify=false', `docker://${host}/e2e/multi:m`]))
        .stdout,
    );
    t.equal(arm.Architecture, 'arm64');
  });

  await t.test('skopeo delete removes the image; gc then reclaims only unreachable blobs', async (t) => {
    await skopeo(['delete', '--tls-verify=false', `docker://${host}/e2e/multi:m`]);
    await t.rejects(skopeo(['inspect', '--tls-verify=false', `docker://${host}/e2e/multi:m`]), 'deleted image is gone');
    await skopeo(['delete', '--tls-verify=false', `docker://${host}/e2e/copy:v1`]);
    const dry = await collectGarbage({ storage, dryRun: true, gracePeriodMs: 0 });
    const res = await collectGarbage({ storage, dryRun: false, gracePeriodMs: 0 });
    t.same(res, dry, 'dry run predicted the real run');
    t.ok(res.blobsDeleted >= 5, `multi-arch blobs reclaimed (${res.blobsDeleted} blobs, ${res.bytesFreed} bytes)`);
    t.ok(res.bytesFreed >= 2 << 20);
    const back = join(work, 'after-gc');
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--preserve-digests',
      `docker://${host}/e2e/app:v1`,
      `oci:${back}:v1`,
    ]);
    t.same(
      await blobsNotMatching(back, img.blobs),
      [],
      'the tagged image (whose blobs e2e/copy shared) still pulls whole',
    );
  });
}
