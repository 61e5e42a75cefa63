/**
 * --workers 2 on a bucket: the real binary with `--storage s3://...` on a real OpenStack Swift
 * (s3api) on loopback. skopeo pushes a multi-layer image through the group and pulls it back
 * byte for byte; both workers took part (their upload sessions live in the bucket, so a PATCH
 * may land on either worker).
 */
import t from 'tap';
import { join } from 'node:path';
import { fileDigest, makeOciImage } from '../helpers/oci-image.js';
import { fetchInsecure, skopeo } from '../helpers/processes.js';
import { portcullisFor } from '../helpers/scoped.js';
import { swiftForFile } from '../helpers/swift-file.js';

interface Status {
  group: { workers: { id: number; pid: number; connections: { requests: number } }[] };
}

const onSwift = await swiftForFile(t, 'portcullis-workers-s3-');
if (onSwift) {
  const { swift, work, bucket } = onSwift;
  const { host } = await portcullisFor(
    t,
    ['--storage', `s3://${bucket}/registry`, '--s3-endpoint', swift.endpoint, '--access-log', 'off'],
    { env: swift.env, workers: 2 },
  );
  const status = async () => JSON.parse((await fetchInsecure(`http://${host}/_status`)).body) as Status;

  t.test('skopeo push and pull through two workers on S3, byte for byte', async (t) => {
    const img = await makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [24 << 20, 1 << 20, 10_000] });
    const before = await status();
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://${host}/w/app:v1`]);
    const back = join(work, 'back');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/w/app:v1`, `oci:${back}:v1`]);
    for (const l of img.layers)
      t.equal(await fileDigest(join(back, 'blobs', 'sha256', l.digest.slice(7))), l.digest, 'pulled layer is intact');
    const keys = await swift.listKeys(bucket, 'registry/blobs/sha256/');
    t.ok(
      img.layers.every((l) => keys.some((k) => k.key.endsWith(l.digest.slice(7)))),
      'every layer is stored in the bucket',
    );
    const after = await status();
    for (const w of after.group.workers) {
      const was = before.group.workers.find((x) => x.id === w.id)?.connections.requests ?? 0;
      t.ok(w.connections.requests > was + 2, `worker ${w.id} served part of the push and pull`);
    }
  });
}
