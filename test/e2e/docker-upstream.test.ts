/**
 * End to end with the real docker client: dockerd (private, no containers) pushes through
 * portcullis (TLS, self-signed) to Debian's registry:2, removes the image, pulls it back.
 * Docker treats 127.0.0.0/8 as an insecure registry: HTTPS first, certificate not verified.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { startRegistry2, fetchInsecure, removeDir } from '../helpers/processes.js';
import { loadImage, pushRmiPull } from '../helpers/dockerd.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';
import { portcullisFor } from '../helpers/scoped.js';

const BIG = Number(process.env.E2E_DOCKER_LAYER ?? 64 << 20);

const docker = await dockerdForFile(t);
if (docker) {
  const { dk, work } = docker;

  t.test('docker push / rmi / pull through portcullis (TLS) to registry:2', async (t) => {
    const registry = await startRegistry2();
    t.teardown(async () => {
      await registry.stop();
      await removeDir(registry.configDir);
    });
    const gw = await portcullisFor(t, ['--upstream', registry.url, '--storage', join(work, 'state')], { tls: true });
    const { port, origin } = gw;

    const image = await makeOciImage(join(work, 'src'), { layerSizes: [BIG, 1 << 20, 1024] });
    const ref = `127.0.0.1:${port}/e2e/app:v1`;
    await loadImage(dk, image, ref, work);
    const digest = await pushRmiPull(t, dk, { ref, tag: 'v1', image, work, origin, repo: 'e2e/app', save: true });

    // A second push finds every blob already there (HEAD through the proxy) and the same digest.
    const again = await dk.ok(['push', ref]);
    t.equal(again.output.match(/Layer already exists/g)?.length, 3, 'second push: all 3 layers already exist');
    t.match(again.output, `v1: digest: ${digest}`, 'second push: same manifest digest');

    // What the operator sees: the upstream really holds the image, portcullis is still healthy.
    const tags = await fetchInsecure(`${registry.url}/v2/e2e/app/tags/list`);
    t.same(JSON.parse(tags.body).tags, ['v1'], 'registry:2 lists the tag docker pushed');
    t.equal(gw.proc.exitCode, null, 'portcullis still running');
  });
}
