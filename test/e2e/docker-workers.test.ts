/**
 * The real docker client against --workers 2 over TLS (self-signed, generated once by the
 * primary): push, rmi, pull back with every layer intact, and both workers served part of it.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { startPortcullis, freePort, tempDir, removeDir, fetchInsecure, waitForHttp } from '../helpers/processes.js';
import { startDockerd, loadImage, pushRmiPull } from '../helpers/dockerd.js';

const started = await startDockerd();
if (!started.ok) {
  t.plan(0, `dockerd cannot run here: ${started.reason}`);
} else {
  const dk = started.dockerd;
  t.teardown(() => dk.stop());

  t.test('docker push / rmi / pull through two workers (TLS)', async (t) => {
    const work = await tempDir();
    t.teardown(() => removeDir(work));
    const port = await freePort();
    const origin = `https://127.0.0.1:${port}`;
    const gw = await startPortcullis([
      '--workers',
      '2',
      '--listen',
      `127.0.0.1:${port}`,
      '--tls-self-signed',
      '--storage',
      join(work, 'storage'),
    ]);
    t.teardown(() => gw.stop());
    await waitForHttp(`${origin}/_ping`, 90_000, gw);
    const workers = async () =>
      (
        JSON.parse((await fetchInsecure(`${origin}/_status`)).body) as {
          group: { workers: { id: number; connections: { requests: number } }[] };
        }
      ).group.workers;
    for (let i = 0; i < 300 && (await workers()).length < 2; i++) await new Promise((r) => setTimeout(r, 200));

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
