/**
 * Registry event notifications: a receiver gets push, pull and delete events in
 * registry:2's envelope; a dead receiver costs nothing but counted drops.
 */
import t from 'tap';
import http from 'node:http';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { startPortcullis, freePort, tempDir, removeDir, skopeo, fetchInsecure } from '../helpers/processes.js';

interface Envelope {
  events: {
    action: string;
    target: { repository: string; tag?: string; digest?: string; mediaType?: string; url?: string };
    request: { method: string; useragent: string };
    actor: { name?: string };
  }[];
}

t.test('push, pull and delete events reach the receiver in the registry:2 format', async (t) => {
  const received: { type?: string; doc: Envelope }[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ type: req.headers['content-type'], doc: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    receiver.closeAllConnections();
    receiver.close();
  });
  const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/events`;
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const port = await freePort();
  const gw = await startPortcullis(
    ['--storage', join(work, 'data'), '--listen', `127.0.0.1:${port}`, '--webhook', hook],
    { probe: `http://127.0.0.1:${port}/_ping` },
  );
  t.teardown(() => gw.stop());

  const image = await makeOciImage(join(work, 'img'), { layerSizes: [4096] });
  await skopeo([
    'copy',
    '--dest-tls-verify=false',
    `oci:${image.dir}:latest`,
    `docker://127.0.0.1:${port}/hooks/app:v1`,
  ]);
  await skopeo(['inspect', '--tls-verify=false', `docker://127.0.0.1:${port}/hooks/app:v1`]);
  await skopeo(['delete', '--tls-verify=false', `docker://127.0.0.1:${port}/hooks/app:v1`]);
  const deadline = Date.now() + 10_000;
  const events = () => received.flatMap((r) => r.doc.events);
  while (!events().some((e) => e.action === 'delete') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));

  t.ok(
    received.every((r) => r.type === 'application/vnd.docker.distribution.events.v2+json'),
    'notification media type',
  );
  const push = events().find((e) => e.action === 'push' && e.target.tag === 'v1');
  t.ok(push, 'manifest push event with its tag');
  t.match(push!.target, {
    repository: 'hooks/app',
    digest: image.manifest.digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    url: new RegExp(`/v2/hooks/app/manifests/${image.manifest.digest}$`),
  });
  t.match(push!.request, { method: 'PUT', useragent: /skopeo|containers/ });
  t.ok(
    events().some((e) => e.action === 'push' && e.target.digest === image.layers[0]!.digest),
    'blob push event',
  );
  t.ok(
    events().some((e) => e.action === 'pull' && e.target.repository === 'hooks/app'),
    'pull event',
  );
  t.ok(
    events().some((e) => e.action === 'delete' && e.target.digest === image.manifest.digest),
    'delete event',
  );
});

t.test('an unreachable receiver never slows requests; drops are counted in /metrics', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const dead = await freePort();
  const port = await freePort();
  const gw = await startPortcullis(
    [
      '--storage',
      join(work, 'data'),
      '--listen',
      `127.0.0.1:${port}`,
      '--webhook',
      `http://127.0.0.1:${dead}/x`,
      '--webhook-queue',
      '2',
      '--webhook-timeout',
      '200ms',
    ],
    { probe: `http://127.0.0.1:${port}/_ping` },
  );
  t.teardown(() => gw.stop());
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [1024] });
  const started = Date.now();
  for (let i = 0; i < 3; i++)
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${port}/dead/app${i}:v1`,
    ]);
  t.ok(Date.now() - started < 20_000, 'pushes complete while the receiver is down');
  const metrics = await fetchInsecure(`http://127.0.0.1:${port}/metrics`);
  const m = /portcullis_webhook_dropped_total\{[^}]*\} (\d+)/.exec(metrics.body);
  t.ok(m && Number(m[1]) > 0, `dropped events counted (${m?.[1]})`);
});
