/**
 * Tags deleted by the server's scheduled retention reach a real webhook receiver in registry:2's
 * envelope (a "delete" event per tag, actor "retention"), and the repository's usage figures
 * follow the deletion and the gc after it.
 */
import t from 'tap';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeOciImage, type GeneratedImage } from '../helpers/oci-image.js';
import {
  fetchInsecure,
  freePort,
  hasCommand,
  removeDir,
  skopeo,
  startPortcullis,
  tempDir,
} from '../helpers/processes.js';

interface RegistryEvent {
  id: string;
  timestamp: string;
  action: string;
  target: { repository: string; tag?: string; digest?: string };
  request: { method: string; useragent: string };
  actor: { name?: string };
  source: { instanceID?: string };
}

t.test(
  'retention deletions are delivered as registry:2 delete events',
  { skip: hasCommand('skopeo') ? false : 'skopeo not installed' },
  async (t) => {
    const received: { type?: string; events: RegistryEvent[] }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ type: req.headers['content-type'], events: JSON.parse(body).events });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      receiver.closeAllConnections();
      receiver.close();
    });
    const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/events`;

    const work = await tempDir('retention-webhook-');
    t.teardown(() => removeDir(work));
    const port = await freePort();
    const registry = `http://127.0.0.1:${port}`;
    const images: GeneratedImage[] = [];
    for (const [i, size] of [1000, 2000, 3000].entries())
      images.push(await makeOciImage(join(work, `img${i}`), { layerSizes: [size] }));

    // Push first, then start the server with the rule, so the first scheduled run sees all three.
    const config = join(work, 'portcullis.yaml');
    const plain = await startPortcullis(['--storage', join(work, 'data'), '--listen', `127.0.0.1:${port}`], {
      probe: `${registry}/_ping`,
    });
    for (const [i, im] of images.entries())
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${im.dir}:${im.tag}`,
        `docker://127.0.0.1:${port}/app:v${i + 1}`,
      ]);
    await plain.stop();

    await writeFile(
      config,
      [`storage: ${join(work, 'data')}`, 'retention:', '  - repositories: "app"', '    keepLast: 1', ''].join('\n'),
    );
    const gw = await startPortcullis(
      [
        '--config',
        config,
        '--listen',
        `127.0.0.1:${port}`,
        '--webhook',
        hook,
        '--retention-interval',
        '1s',
        '--retention-grace-period',
        '0s',
      ],
      { probe: `${registry}/_ping` },
    );
    t.teardown(() => gw.stop());

    const deletions = () => received.flatMap((r) => r.events).filter((e) => e.actor.name === 'retention');
    const deadline = Date.now() + 30_000;
    while (deletions().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    t.ok(
      received.every((r) => r.type === 'application/vnd.docker.distribution.events.v2+json'),
      'the notification media type of registry:2',
    );
    const events = deletions().sort((a, b) => (a.target.tag! < b.target.tag! ? -1 : 1));
    t.same(
      events.map((e) => e.target),
      [
        { repository: 'app', tag: 'v1', digest: images[0]!.manifest.digest },
        { repository: 'app', tag: 'v2', digest: images[1]!.manifest.digest },
      ],
      'one delete event per tag retention removed, naming repository, tag and manifest digest',
    );
    for (const e of events) {
      t.equal(e.action, 'delete');
      t.match(e.request, { method: 'DELETE', useragent: 'portcullis-retention' });
      t.match(e.id, /^[0-9a-f-]{36}$/);
      t.ok(Number.isFinite(Date.parse(e.timestamp)), 'an RFC 3339 timestamp');
      t.type(e.source.instanceID, 'string');
    }

    const tags = JSON.parse((await fetchInsecure(`${registry}/v2/app/tags/list`)).body).tags;
    t.same(tags, ['v3'], 'the newest tag is kept');
    // After the run's gc, the figures are those of the one image left.
    const kept = images[2]!;
    const bytes = kept.manifest.size + kept.config.size + kept.layers.reduce((a, l) => a + l.size, 0);
    let usage = JSON.parse((await fetchInsecure(`${registry}/v2/app/_portcullis/usage`)).body);
    const until = Date.now() + 10_000;
    while (usage.manifests !== 1 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      usage = JSON.parse((await fetchInsecure(`${registry}/v2/app/_portcullis/usage`)).body);
    }
    t.match(usage, { tags: 1, manifests: 1, bytes }, 'usage figures follow retention and its gc');
  },
);
