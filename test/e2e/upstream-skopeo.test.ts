/**
 * End to end with the real parts: Debian's registry:2 behind portcullis with TLS, driven by
 * the real skopeo. Push a multi-layer image (one 256 MiB layer), pull it back, compare every
 * blob, inspect, list tags, delete. Then the same push behind a TLS-terminating hop that
 * sends X-Forwarded-Proto (seed 001's ELB), which must not break upload Locations.
 */
import t from 'tap';
import { join } from 'node:path';
import { readdir, mkdir, copyFile } from 'node:fs/promises';
import { makeOciImage, fileDigest } from '../helpers/oci-image.js';
import {
  startRegistry2,
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
} from '../helpers/processes.js';

const BIG = Number(process.env.E2E_BIG_LAYER_BYTES ?? 256 << 20);

t.test('skopeo through portcullis (TLS) to registry:2: push, pull byte for byte, inspect, tags, delete', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const registry = await startRegistry2();
  t.teardown(() => registry.stop());
  const port = await freePort();
  const gw = await startPortcullis(
    [
      '--upstream',
      registry.url,
      '--listen',
      `127.0.0.1:${port}`,
      '--tls-self-signed',
      '--storage',
      join(work, 'state'),
    ],
    { probe: `https://127.0.0.1:${port}/_ping` },
  );
  t.teardown(() => gw.stop());
  // Trust exactly the certificate portcullis generated (no --tls-verify=false).
  const certs = join(work, 'certs');
  await mkdir(certs);
  await copyFile(join(work, 'state', 'tls', 'self-signed.crt'), join(certs, 'ca.crt'));

  const image = await makeOciImage(join(work, 'src'), { layerSizes: [BIG, 4 << 20, 1024] });
  const ref = `docker://127.0.0.1:${port}/e2e/app:v1`;
  await skopeo(['copy', '--dest-cert-dir', certs, `oci:${image.dir}:latest`, ref]);

  const inspect = JSON.parse((await skopeo(['inspect', '--cert-dir', certs, '--raw', ref])).stdout);
  t.equal(inspect.layers.length, 3);
  t.same(
    inspect.layers.map((l: { digest: string }) => l.digest),
    image.layers.map((l) => l.digest),
  );
  const tags = JSON.parse(
    (await skopeo(['list-tags', '--cert-dir', certs, `docker://127.0.0.1:${port}/e2e/app`])).stdout,
  );
  t.same(tags.Tags, ['v1']);

  const out = join(work, 'out');
  await skopeo(['copy', '--src-cert-dir', certs, ref, `oci:${out}:v1`]);
  const pulled = await readdir(join(out, 'blobs', 'sha256'));
  for (const digest of [image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)]) {
    t.ok(pulled.includes(digest.slice(7)), `pulled ${digest.slice(0, 19)}`);
    t.equal(await fileDigest(join(out, 'blobs', 'sha256', digest.slice(7))), digest, 'content matches its digest');
  }

  // What docker login needs: the API version header, on the registry's own answers too.
  const ping = await fetchInsecure(`https://127.0.0.1:${port}/v2/`);
  t.equal(ping.status, 200);
  t.equal(ping.headers['docker-distribution-api-version'], 'registry/2.0');

  await skopeo(['delete', '--cert-dir', certs, ref]);
  await t.rejects(
    skopeo(['inspect', '--cert-dir', certs, ref]),
    /manifest unknown|not found/i,
    'deleted manifest is gone',
  );
});

t.test('behind a trusted TLS-terminating hop, pushes still work and Locations say https', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const registry = await startRegistry2();
  t.teardown(() => registry.stop());
  // Inner portcullis: plain HTTP, trusts the terminator on loopback.
  const innerPort = await freePort();
  const inner = await startPortcullis(
    ['--upstream', registry.url, '--listen', `127.0.0.1:${innerPort}`, '--trusted-proxies', '127.0.0.1/32'],
    { probe: `http://127.0.0.1:${innerPort}/_ping` },
  );
  t.teardown(() => inner.stop());
  // The terminator: another portcullis with TLS forwarding to the inner one (sends X-Forwarded-Proto: https).
  const edgePort = await freePort();
  const edge = await startPortcullis(
    [
      '--upstream',
      `http://127.0.0.1:${innerPort}`,
      '--listen',
      `127.0.0.1:${edgePort}`,
      '--tls-self-signed',
      '--storage',
      join(work, 'edge'),
    ],
    { probe: `https://127.0.0.1:${edgePort}/_ping` },
  );
  t.teardown(() => edge.stop());

  const started = await fetchInsecure(`https://127.0.0.1:${edgePort}/v2/behind/elb/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  t.equal(started.status, 202);
  t.match(
    started.headers.location,
    new RegExp(`^https://127\\.0\\.0\\.1:${edgePort}/v2/behind/elb/blobs/uploads/`),
    'Location keeps the public https origin',
  );

  const image = await makeOciImage(join(work, 'src'), { layerSizes: [8 << 20, 1024] });
  await skopeo([
    'copy',
    '--dest-tls-verify=false',
    `oci:${image.dir}:latest`,
    `docker://127.0.0.1:${edgePort}/behind/elb:v1`,
  ]);
  const out = join(work, 'out');
  await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${edgePort}/behind/elb:v1`, `oci:${out}:v1`]);
  for (const l of image.layers) t.equal(await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))), l.digest);
});
