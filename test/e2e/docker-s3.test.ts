/**
 * The real docker client against portcullis with the embedded core on an S3 bucket:
 * OpenStack Swift with s3api on loopback (test/helpers/swift.ts), a private dockerd
 * (test/helpers/dockerd.ts). docker push, rmi, pull: same digest, same layers.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { loadImage, pushRmiPull } from '../helpers/dockerd.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';
import { portcullisFor } from '../helpers/scoped.js';
import { startSwift, swiftMissing } from '../helpers/swift.js';

const docker = await dockerdForFile(t, { missing: swiftMissing() });
if (docker) {
  const { dk, work } = docker;

  t.test('docker push / rmi / pull against the embedded registry on a Swift bucket', async (t) => {
    const swift = await startSwift();
    t.teardown(() => swift.stop());
    const bucket = await swift.createBucket();
    const { port, origin } = await portcullisFor(
      t,
      ['--storage', `s3://${bucket}/registry`, '--s3-endpoint', swift.endpoint],
      { env: swift.env },
    );

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
