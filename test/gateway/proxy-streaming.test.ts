import t from 'tap';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import http from 'node:http';
import { startGateway, fakeUpstream, request } from '../helpers/gateway.js';
import { freePort } from '../helpers/processes.js';

t.test(
  'a chunked PATCH without Content-Length is streamed through chunked, byte for byte (docs/pitfalls.md: "Chunked request bodies")',
  async (t) => {
    let seen: { te?: string; cl?: string; digest?: string; size?: number } = {};
    const up = await fakeUpstream((req, res) => {
      const h = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        h.update(c);
        size += c.length;
      });
      req.on('end', () => {
        seen = {
          te: req.headers['transfer-encoding'],
          cl: req.headers['content-length'],
          digest: h.digest('hex'),
          size,
        };
        res.writeHead(202, { location: `${up.url}/v2/app/blobs/uploads/u1?_state=a%3D`, range: `0-${size - 1}` }).end();
      });
    });
    const gw = await startGateway([up.url]);
    t.teardown(async () => {
      await gw.close();
      await up.close();
    });
    const chunk = Buffer.alloc(1 << 20, 7);
    const expected = createHash('sha256');
    let n = 0;
    const body = new Readable({
      read() {
        if (n++ < 64) {
          expected.update(chunk);
          this.push(chunk);
        } else this.push(null);
      },
    });
    const res = await request(`${gw.url}/v2/app/blobs/uploads/u1?_state=a%3D`, {
      method: 'PATCH',
      headers: { host: `127.0.0.1:${gw.port}`, 'transfer-encoding': 'chunked' },
      body,
    });
    t.equal(res.status, 202);
    t.equal(seen.te, 'chunked');
    t.equal(seen.cl, undefined, 'never both Content-Length and Transfer-Encoding');
    t.equal(seen.size, 64 << 20);
    t.equal(seen.digest, expected.digest('hex'));
    t.equal(
      res.headers.location,
      `http://127.0.0.1:${gw.port}/v2/app/blobs/uploads/u1?_state=a%3D`,
      'Location on a 202 points at the gateway, query intact',
    );
    t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  },
);

t.test('bodiless DELETE never gets Transfer-Encoding: chunked (node-http-proxy PR #373)', async (t) => {
  let te: string | undefined = 'unset';
  const up = await fakeUpstream((req, res) => {
    te = req.headers['transfer-encoding'];
    res.writeHead(202).end();
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const res = await request(`${gw.url}/v2/app/manifests/sha256:${'a'.repeat(64)}`, { method: 'DELETE' });
  t.equal(res.status, 202);
  t.equal(te, undefined);
});

t.test(
  'HEAD keeps Content-Length and Docker-Content-Digest (docs/pitfalls.md: "HEAD keeps Content-Length")',
  async (t) => {
    const up = await fakeUpstream((_req, res) => {
      res.writeHead(200, {
        'content-length': '52428800',
        'docker-content-digest': 'sha256:abc',
        'content-type': 'application/octet-stream',
        'docker-distribution-api-version': 'registry/2.0',
      });
      res.end();
    });
    const gw = await startGateway([up.url]);
    t.teardown(async () => {
      await gw.close();
      await up.close();
    });
    const res = await request(`${gw.url}/v2/app/blobs/sha256:abc`, { method: 'HEAD' });
    t.equal(res.status, 200);
    t.equal(res.headers['content-length'], '52428800');
    t.equal(res.headers['docker-content-digest'], 'sha256:abc');
    t.equal(res.headers['transfer-encoding'], undefined);
    t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0', 'not duplicated');
  },
);

t.test('Range requests pass through and 206 stays 206 (docs/pitfalls.md: "Range requests on blobs")', async (t) => {
  const up = await fakeUpstream((req, res) => {
    t.equal(req.headers.range, 'bytes=10-19');
    res
      .writeHead(206, { 'content-range': 'bytes 10-19/100', 'content-length': '10', 'accept-ranges': 'bytes' })
      .end('0123456789');
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const res = await request(`${gw.url}/v2/app/blobs/sha256:abc`, { headers: { range: 'bytes=10-19' } });
  t.equal(res.status, 206);
  t.equal(res.headers['content-range'], 'bytes 10-19/100');
  t.equal(res.body.toString(), '0123456789');
});

t.test(
  'no compression: Accept-Encoding goes upstream untouched and bodies come back as sent (docs/pitfalls.md: "Never compress registry traffic")',
  async (t) => {
    const up = await fakeUpstream((req, res) => {
      res
        .writeHead(200, { 'x-seen-accept-encoding': String(req.headers['accept-encoding']), 'content-length': '5' })
        .end('plain');
    });
    const gw = await startGateway([up.url]);
    t.teardown(async () => {
      await gw.close();
      await up.close();
    });
    const res = await request(`${gw.url}/v2/app/manifests/v1`, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(res.headers['x-seen-accept-encoding'], 'gzip');
    t.equal(res.headers['content-encoding'], undefined);
    t.equal(res.body.toString(), 'plain');
  },
);

t.test('an unreachable upstream gives 502 with a registry JSON error, and the gateway keeps serving', async (t) => {
  const port = await freePort();
  const gw = await startGateway([`http://127.0.0.1:${port}`]);
  t.teardown(() => gw.close());
  for (let i = 0; i < 2; i++) {
    const res = await request(`${gw.url}/v2/app/manifests/v1`);
    t.equal(res.status, 502);
    t.match(res.headers['content-type'], /application\/json/);
    t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    t.equal(JSON.parse(res.body.toString()).errors[0].code, 'BAD_GATEWAY');
  }
});

t.test('an upstream that stalls before answering gets 504 after the idle timeout', async (t) => {
  const up = await fakeUpstream(() => {
    /* never answers */
  });
  const gw = await startGateway([up.url], { idleTimeoutMs: 300 });
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const res = await request(`${gw.url}/v2/app/manifests/v1`);
  t.equal(res.status, 504);
  t.equal(JSON.parse(res.body.toString()).errors[0].code, 'GATEWAY_TIMEOUT');
});

t.test('a client that aborts mid-upload aborts the upstream request too', async (t) => {
  let upstreamClosedEarly: () => void;
  const closed = new Promise<void>((r) => {
    upstreamClosedEarly = r;
  });
  let received = 0;
  const up = await fakeUpstream((req) => {
    req.on('data', (c: Buffer) => {
      received += c.length;
    });
    req.on('close', () => {
      if (!req.complete) upstreamClosedEarly();
    });
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const req = http.request(`${gw.url}/v2/app/blobs/uploads/u1`, {
    method: 'PATCH',
    agent: false,
    headers: { 'transfer-encoding': 'chunked' },
  });
  req.on('error', () => {});
  req.write(Buffer.alloc(1 << 20));
  await new Promise((r) => setTimeout(r, 200));
  req.destroy();
  await closed;
  t.ok(received > 0, 'bytes had reached the upstream');
  await new Promise((r) => setTimeout(r, 100));
  const open = await new Promise<number>((r) => up.server.getConnections((_, n) => r(n)));
  t.equal(open, 0, 'no upstream socket left open');
});

t.test('memory stays flat while 1 GiB streams through', async (t) => {
  const up = await fakeUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201).end());
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  global.gc?.();
  const before = process.memoryUsage().rss;
  const chunk = Buffer.alloc(1 << 20, 1);
  let n = 0;
  let peak = before;
  const body = new Readable({
    read() {
      peak = Math.max(peak, process.memoryUsage().rss);
      if (n++ < 1024) this.push(chunk);
      else this.push(null);
    },
  });
  const res = await request(`${gw.url}/v2/app/blobs/uploads/u1?digest=sha256:x`, {
    method: 'PUT',
    headers: { 'content-length': String(1024 << 20) },
    body,
  });
  t.equal(res.status, 201);
  t.ok(peak - before < 96 << 20, `RSS grew ${((peak - before) / 1048576).toFixed(1)} MiB for a 1 GiB body`);
});
