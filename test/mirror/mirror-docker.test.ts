/**
 * docker's own mirror setting pointed at portcullis: daemon.json `registry-mirrors` makes the
 * daemon ask the mirror for `/v2/library/<name>/...` when pulling a Docker Hub image, which
 * --mirror-default serves from the remote (here registry:2 behind a token-auth portcullis, a
 * stand-in for Docker Hub). Also the explicit form HOST/PREFIX/NAME, and a push refused.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { freePort, removeDir, startPortcullis, tempDir } from '../helpers/processes.js';
import { diffIds, inspectImage, savedLayerDigests, startDockerd } from '../helpers/dockerd.js';
import { startRemote, writeCredentials } from '../helpers/mirror-remote.js';

const port = await freePort();
const host = `127.0.0.1:${port}`;
const started = await startDockerd({ daemonConfig: { 'registry-mirrors': [`http://${host}`] } });
if (!started.ok) {
  t.plan(0, `dockerd cannot run here: ${started.reason}`);
} else {
  const dk = started.dockerd;
  t.teardown(() => dk.stop());
  const work = await tempDir('portcullis-mirror-docker-');
  const remote = await startRemote();
  t.teardown(async () => {
    await remote.stop();
    await removeDir(work);
  });
  const creds = await writeCredentials(work, 'dockerhub');
  const mirror = await startPortcullis(
    [
      '--listen',
      host,
      '--storage',
      join(work, 'storage'),
      '--mirror',
      `dockerhub=${remote.url}`,
      '--mirror-default',
      'dockerhub',
      '--mirror-credentials',
      creds,
    ],
    { probe: `http://${host}/_ping` },
  );
  t.teardown(() => mirror.stop());
  const image = await makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [16 << 20, 1 << 20, 4096] });
  await remote.push(image.dir, 'v1', 'library/mirrored:v1');
  const expected = await diffIds(image);

  await t.test('docker pull NAME through daemon.json registry-mirrors, byte for byte', async (t) => {
    const pull = await dk.ok(['pull', 'mirrored:v1']);
    t.match(pull.output, `Digest: ${image.manifest.digest}`, 'docker reports the remote digest');
    const info = await inspectImage(dk, 'mirrored:v1');
    t.equal(info?.Id, image.config.digest, 'image ID is the config digest');
    t.same(info?.RootFS.Layers, expected, 'layers have the original diff_ids');
    t.same(await savedLayerDigests(dk, 'mirrored:v1', work), expected, 'docker save: every layer tar hashes right');
    const fetched = await remote.blobGets();
    t.equal(fetched, 1 + image.layers.length, 'config and layers came from the remote once');

    await dk.ok(['rmi', 'mirrored:v1']);
    const again = await dk.ok(['pull', 'mirrored:v1']);
    t.match(again.output, `Digest: ${image.manifest.digest}`, 'second pull: same digest');
    t.match(again.output, /Pull complete/, 'the layers were downloaded again (from the mirror)');
    t.equal(await remote.blobGets(), fetched, 'the second pull made no blob request to the remote');
  });

  await t.test('docker pull HOST/PREFIX/NAME; docker push under the prefix is refused', async (t) => {
    const ref = `${host}/dockerhub/library/mirrored:v1`;
    const pull = await dk.ok(['pull', ref]);
    t.match(pull.output, `Digest: ${image.manifest.digest}`, 'the explicit prefix form pulls the same image');
    t.same((await inspectImage(dk, ref))?.RootFS.Layers, expected, 'same layers');
    await dk.ok(['tag', ref, `${host}/dockerhub/library/mine:v1`]);
    const push = await dk.run(['push', `${host}/dockerhub/library/mine:v1`]);
    t.not(push.code, 0, 'docker push into the mirror prefix fails');
    t.match(push.output, /denied: dockerhub\/ is a pull-through mirror/, 'and docker prints why');
  });
}
