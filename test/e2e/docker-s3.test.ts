/**
 * The real docker client against portcullis with the embedded core on an S3 bucket:
 * OpenStack Swift with s3api on loopback (test/helpers/swift.ts), a private dockerd
 * (test/helpers/dockerd.ts). docker push, rmi, pull: same digest, same layers.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { startPortcullis, freePort, tempDir, removeDir } from '../helpers/processes.js';
import { startDockerd, loadImage, pushRmiPull } from '../helpers/dockerd.js';
import { startSwift, swiftMissing } from '../helpers/swift.js';

const missing = swiftMissing();
const started = missing ? { ok: false as const, reason: missing } : await startDockerd();
if (!started.ok) {
  t.plan(0, `cannot run here: ${started.reason}`);
} else {
  const dk = started.dockerd;
  t.teardown(() => dk.stop());

  t.test('docker push / rmi / pull against the embedded registry on a Swift bucket', async (t) => {
    const swift = await startSwift();
    t.teardown(() => swift.stop());
    const work = await tempDir();
    t.teardown(() => removeDir(work));
    const bucket = await swift.createBucket();
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const gw = await startPortcullis(
      ['--listen', `127.0.0.1:${port}`, '--storage', `s3://${bucket}/registry`, '--s3-endpoint', swift.endpoint],
      { env: swift.env, probe: `${origin}/_ping` },
    );
    t.teardown(() => gw.stop());

    const image = await makeOciImage(join(work, 'src'), { layerSizes: [24 << 20, 1024] });
    const ref = `127.0.0.1:${port}/s3/app:v1`;
    await loadImage(dk, image, ref, work);
    await pushRmiPull(t, dk, { ref, tag: 'v1', image, work, origin, repo: 's3/app' });
    // docker recompresses a loaded layer on push (new digest), so look for an object of its size.
    const objects = await swift.listKeys(bucket, 'registry/');
    t.ok(
      objects.some((o: { size: number }) => o.size >= 24 << 20),
      'the layer is stored in the bucket',
    );
  });
}
