/**
 * End to end with the real docker client against portcullis's embedded OCI registry (no
 * --upstream, TLS self-signed, storage in a temporary directory): push, rmi, pull back; a
 * second repository gets its layers by cross-repository mount; the store survives a restart.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { startPortcullis, fetchInsecure } from '../helpers/processes.js';
import { loadImage, pushRmiPull, inspectImage, diffIds } from '../helpers/dockerd.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';
import { portcullisFor } from '../helpers/scoped.js';

const BIG = Number(process.env.E2E_DOCKER_LAYER ?? 64 << 20);

const docker = await dockerdForFile(t);
if (docker) {
  const { dk, work } = docker;

  t.test('docker push / rmi / pull against the embedded registry (TLS)', async (t) => {
    const gw = await portcullisFor(t, ['--storage', join(work, 'storage')], { tls: true });
    const { port, origin } = gw;

    const image = await makeOciImage(join(work, 'src'), { layerSizes: [BIG, 1 << 20, 1024] });
    const ref = `127.0.0.1:${port}/e2e/app:v1`;
    await loadImage(dk, image, ref, work);
    const digest = await pushRmiPull(t, dk, { ref, tag: 'v1', image, work, origin, repo: 'e2e/app', save: true });

    // Same image under another repository: docker asks to mount the blobs it pushed to e2e/app.
    const other = `127.0.0.1:${port}/e2e/other:v1`;
    await dk.ok(['tag', ref, other]);
    const mounted = await dk.ok(['push', other]);
    t.equal(
      mounted.output.match(/Mounted from e2e\/app/g)?.length,
      3,
      'all 3 layers mounted from e2e/app (cross-repository mount), none uploaded again',
    );
    t.notMatch(mounted.output, /Pushed/, 'no layer uploaded twice');
    t.match(mounted.output, `v1: digest: ${digest}`, 'same manifest digest in the second repository');

    const catalog = await fetchInsecure(`${origin}/v2/_catalog`);
    t.same(JSON.parse(catalog.body).repositories, ['e2e/app', 'e2e/other'], 'catalog lists both repositories');

    // Restart portcullis on the same storage: the image is still there for docker to pull.
    await gw.stop();
    const restarted = await startPortcullis(gw.args, { probe: `${origin}/_ping` });
    t.teardown(() => restarted.stop());
    await dk.ok(['rmi', ref, other]);
    const pulled = await dk.ok(['pull', other]);
    t.match(pulled.output, `Digest: ${digest}`, 'pull after restart: same digest');
    t.same((await inspectImage(dk, other))?.RootFS.Layers, await diffIds(image), 'pull after restart: same layers');

    // Pulling a tag that does not exist says so.
    const missing = await dk.run(['pull', `127.0.0.1:${port}/e2e/app:nope`]);
    t.not(missing.code, 0, 'pulling a missing tag fails');
    t.match(missing.output, /manifest unknown|not found/i, 'and says the manifest is unknown');
  });
}
