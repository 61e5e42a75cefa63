import t from 'tap';
import { createHash } from 'node:crypto';
import { startGateway, fakeUpstream, request } from '../helpers/gateway.js';

const manifest = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }),
);
const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

async function setup(t: { teardown: (fn: () => unknown) => void }, opts: { upstreamAuth: boolean }) {
  const seen: string[] = [];
  const up = await fakeUpstream((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (opts.upstreamAuth && !req.headers.authorization) {
      res
        .writeHead(401, { 'www-authenticate': 'Basic realm="r"', 'docker-distribution-api-version': 'registry/2.0' })
        .end();
      return;
    }
    if (req.url === '/v2/') {
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': '2',
          'docker-distribution-api-version': 'registry/2.0',
        })
        .end('{}');
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(202).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'content-length': String(manifest.length),
      'docker-content-digest': digest,
    });
    res.end(req.method === 'HEAD' ? undefined : manifest);
  });
  const gw = await startGateway([up.url], { healthIntervalMs: 60_000 });
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  if (!opts.upstreamAuth) {
    // The start-up probe finds the registry open; until its answer is in, a version check is
    // still forwarded. Wait for that (bounded), not for a fixed time a busy machine may miss.
    for (let i = 0; ; i++) {
      const n = seen.length;
      await request(`${gw.url}/v2/`);
      if (seen.length === n) break;
      if (i === 100) throw new Error('the gateway never found the open upstream healthy');
      await new Promise((r) => setTimeout(r, 50));
    }
  } else {
    // The start-up probe has reached the registry (and been refused with its challenge).
    for (let i = 0; !seen.includes('GET /v2/'); i++) {
      if (i === 100) throw new Error('no start-up probe');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { gw, seen };
}

t.test('an open upstream: /v2/ answered by the gateway, manifests by digest served from the cache', async (t) => {
  const { gw, seen } = await setup(t, { upstreamAuth: false });
  const before = seen.length;
  const ping = await request(`${gw.url}/v2/`);
  t.equal(ping.status, 200);
  t.equal(ping.body.toString(), '{}');
  t.equal(ping.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(seen.length, before, 'the version check did not reach the registry');

  const path = `/v2/app/manifests/${digest}`;
  const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
  const first = await request(`${gw.url}${path}`, { headers: accept });
  const again = await request(`${gw.url}${path}`, { headers: accept });
  const head = await request(`${gw.url}${path}`, { method: 'HEAD', headers: accept });
  t.same(again.body, first.body, 'same bytes');
  t.equal(again.headers['docker-content-digest'], digest);
  t.equal(head.headers['content-length'], String(manifest.length), 'HEAD from the cache keeps Content-Length');
  t.equal(seen.filter((s) => s === `GET ${path}`).length, 1, 'the registry saw one GET');
  t.equal(seen.filter((s) => s === `HEAD ${path}`).length, 0, 'and no HEAD');

  await request(`${gw.url}${path}`, { method: 'DELETE' });
  await request(`${gw.url}${path}`, { headers: accept });
  t.equal(seen.filter((s) => s === `GET ${path}`).length, 2, 'a DELETE through the gateway drops the cached entry');
  await request(`${gw.url}/v2/app/manifests/latest`, { headers: accept });
  await request(`${gw.url}/v2/app/manifests/latest`, { headers: accept });
  t.equal(seen.filter((s) => s === 'GET /v2/app/manifests/latest').length, 2, 'tags are never cached');
});

t.test('an upstream with auth of its own: everything is forwarded', async (t) => {
  const { gw, seen } = await setup(t, { upstreamAuth: true });
  const ping = await request(`${gw.url}/v2/`);
  t.equal(ping.status, 401, "the registry's own challenge reaches the client");
  t.equal(seen.filter((s) => s === 'GET /v2/').length, 2, 'probe plus the forwarded version check');
  const path = `/v2/app/manifests/${digest}`;
  await request(`${gw.url}${path}`, { headers: { authorization: 'Basic eDp5' } });
  await request(`${gw.url}${path}`, { headers: { authorization: 'Basic eDp5' } });
  t.equal(seen.filter((s) => s === `GET ${path}`).length, 2, 'no cache in front of a registry that checks credentials');
});
