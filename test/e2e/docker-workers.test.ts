/**
 * The real docker client against --workers 2 over TLS (self-signed, generated once by the
 * primary): push, rmi, pull back with every layer intact, and both workers served part of it.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { fetchInsecure } from '../helpers/processes.js';
import { loadImage, pushRmiPull } from '../helpers/dockerd.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';
import { portcullisFor } from '../helpers/scoped.js';

const docker = await dockerdForFile(t);
if (docker) {
  const { dk, work } = docker;

  t.test('docker push / rmi / pull through two workers (TLS)', async (t) => {
    const { port, origin } = await portcullisFor(t, ['--storage', join(work, 'storage')], { tls: true, workers: 2 });
    const workers = async () =>
      (
        JSON.parse((await fetchInsecure(`${origin}/_status`)).body) as {
          group: { workers: { id: number; connections: { requests: number } }[] };
        }
      ).group.workers;

    const image = await makeOciImage(join(work, 'src'), { layerSizes: [16 << 20, 1 << 20, 1024] });
    const ref = `127.0.0.1:${port}/e2e/workers:v1`;
    await loadImage(dk, image, ref, work);
    await pushRmiPull(t, dk, { ref, tag: 'v1', image, work, origin, repo: 'e2e/workers', save: true });
    const after = await workers();
    t.equal(after.length, 2, 'two workers');
    t.ok(
      after.every((w) => w.connections.requests > 3),
      `both workers served the push and pull (${after.map((w) => w.connections.requests).join(', ')} requests)`,
    );
  });
}
