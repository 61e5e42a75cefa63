// Blob GETs through the upstream backend take the splice path (src/backends/body-splice.ts):
// these check what a client pulling layers notices — every byte, in order, on a reused
// upstream connection; backpressure instead of buffering; aborts and failures in both directions.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { startGateway, fakeUpstream, request } from '../helpers/gateway.js';
import { freePort } from '../helpers/processes.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const BLOB_PATH = `/v2/app/blobs/${DIGEST}`;

/** Random content, so a reordered, repeated or dropped chunk changes the hash. */
function content(size: number): Buffer {
  return randomBytes(size);
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Writes `body` in 64 KiB pieces with backpressure, counting what the socket accepted. */
function streamBody(res: http.ServerResponse, body: Buffer, progress: { written: number }) {
  let off = 0;
  const pump = () => {
    while (off < body.length) {
      const piece = body.subarray(off, off + 65536);
      off += piece.length;
      progress.written = off;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

t.test('a 64 MiB blob arrives byte for byte with its headers, twice over one upstream connection', async (t) => {
  const body = content(64 << 20);
  const connections = new Set<Socket>();
  const up = await fakeUpstream((req, res) => {
    connections.add(req.socket);
    t.equal(req.url, BLOB_PATH);
    res.writeHead(200, {
      'content-length': body.length,
      'docker-content-digest': DIGEST,
      'content-type': 'application/octet-stream',
      'set-cookie': ['a=1', 'b=2'],
    });
    streamBody(res, body, { written: 0 });
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  for (let i = 0; i < 2; i++) {
    const res = await request(`${gw.url}${BLOB_PATH}`);
    t.equal(res.status, 200);
    t.equal(res.headers['content-length'], String(body.length));
    t.equal(res.headers['docker-content-digest'], DIGEST);
    t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    t.same(res.headers['set-cookie'], ['a=1', 'b=2']);
    t.equal(res.body.length, body.length);
    t.equal(sha(res.body), sha(body), 'same bytes');
  }
  t.equal(connections.size, 1, 'the second GET reused the upstream connection');
});

t.test('small and empty blobs, 404 JSON errors and HEAD-less redirects pass unchanged', async (t) => {
  const up = await fakeUpstream((req, res) => {
    if (req.url!.endsWith('b'.repeat(64))) res.writeHead(200, { 'content-length': 0 }).end();
    else if (req.url!.endsWith('c'.repeat(64)))
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    else if (req.url!.endsWith('d'.repeat(64)))
      res.writeHead(307, { location: 'https://bucket.example/blob?sig=x', 'content-length': 0 }).end();
    else res.writeHead(200, { 'content-length': 3 }).end('abc');
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const small = await request(`${gw.url}${BLOB_PATH}`);
  t.equal(small.body.toString(), 'abc');
  const empty = await request(`${gw.url}/v2/app/blobs/sha256:${'b'.repeat(64)}`);
  t.equal(empty.status, 200);
  t.equal(empty.body.length, 0);
  const missing = await request(`${gw.url}/v2/app/blobs/sha256:${'c'.repeat(64)}`);
  t.equal(missing.status, 404);
  t.equal(JSON.parse(missing.body.toString()).errors[0].code, 'BLOB_UNKNOWN');
  const moved = await request(`${gw.url}/v2/app/blobs/sha256:${'d'.repeat(64)}`);
  t.equal(moved.status, 307);
  t.equal(moved.headers.location, 'https://bucket.example/blob?sig=x');
});

t.test('an upstream answering a blob GET chunked still delivers every byte', async (t) => {
  const body = content(3 << 20);
  const up = await fakeUpstream((_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked', 'docker-content-digest': DIGEST });
    streamBody(res, body, { written: 0 });
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const res = await request(`${gw.url}${BLOB_PATH}`);
  t.equal(res.status, 200);
  t.equal(res.headers['docker-content-digest'], DIGEST);
  t.equal(sha(res.body), sha(body));
});

t.test('a client that stops reading stops the upstream too: nothing piles up in the gateway', async (t) => {
  const body = content(128 << 20);
  const progress = { written: 0 };
  const up = await fakeUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    streamBody(res, body, progress);
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const rssBefore = process.memoryUsage().rss;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get(`${gw.url}${BLOB_PATH}`, { agent: false }, resolve).on('error', reject),
  );
  res.pause();
  await new Promise((r) => setTimeout(r, 1500));
  const stalledAt = progress.written;
  t.ok(stalledAt < 48 << 20, `upstream stopped after ${(stalledAt / 1048576).toFixed(1)} MiB of 128`);
  t.ok(process.memoryUsage().rss - rssBefore < 64 << 20, 'gateway memory did not grow with the body');
  // and once the client reads again, everything arrives intact
  const h = createHash('sha256');
  let got = 0;
  res.on('data', (c: Buffer) => {
    h.update(c);
    got += c.length;
  });
  res.resume();
  await new Promise((r) => res.on('end', r));
  t.equal(got, body.length);
  t.equal(h.digest('hex'), sha(body));
});

t.test('a client that aborts mid-download closes the upstream connection', async (t) => {
  const body = content(128 << 20);
  const up = await fakeUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    streamBody(res, body, { written: 0 });
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const req = http.get(`${gw.url}${BLOB_PATH}`, { agent: false });
  req.on('error', () => {});
  const res = await new Promise<http.IncomingMessage>((r) => req.on('response', r));
  await new Promise<void>((r) => res.once('data', () => r()));
  req.destroy();
  const deadline = Date.now() + 5000;
  let open = 1;
  while (Date.now() < deadline) {
    open = await new Promise<number>((r) => up.server.getConnections((_, n) => r(n)));
    if (open === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(open, 0, 'no upstream socket left open');
  // the gateway keeps serving blob GETs afterwards
  const up2 = await fakeUpstream((_req, r) => r.writeHead(200, { 'content-length': 2 }).end('ok'));
  const gw2 = await startGateway([up2.url]);
  t.teardown(async () => {
    await gw2.close();
    await up2.close();
  });
  t.equal((await request(`${gw2.url}${BLOB_PATH}`)).body.toString(), 'ok');
});

t.test('an upstream that dies mid-body cuts the client off instead of ending cleanly', async (t) => {
  const up = await fakeUpstream((req, res) => {
    res.writeHead(200, { 'content-length': 8 << 20 });
    res.write(Buffer.alloc(1 << 20));
    setTimeout(() => req.socket.destroy(), 100);
  });
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const outcome = await new Promise<string>((resolve) => {
    http
      .get(`${gw.url}${BLOB_PATH}`, { agent: false }, (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
        });
        res.on('end', () => resolve(`ended cleanly after ${got} bytes`));
        res.on('aborted', () => resolve('aborted'));
        res.on('error', () => resolve('aborted'));
      })
      .on('error', () => resolve('aborted'));
  });
  t.equal(outcome, 'aborted');
});

t.test('an upstream that stalls mid-body is cut after the idle timeout; one that never answers gets 504', async (t) => {
  const up = await fakeUpstream((req, res) => {
    if (req.url!.endsWith('e'.repeat(64))) return; // never answers
    res.writeHead(200, { 'content-length': 4 << 20 });
    res.write(Buffer.alloc(1 << 20)); // then nothing
  });
  const gw = await startGateway([up.url], { idleTimeoutMs: 300 });
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const started = Date.now();
  const outcome = await new Promise<string>((resolve) => {
    http
      .get(`${gw.url}${BLOB_PATH}`, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve('ended'));
        res.on('aborted', () => resolve('aborted'));
        res.on('error', () => resolve('aborted'));
      })
      .on('error', () => resolve('aborted'));
  });
  t.equal(outcome, 'aborted');
  t.ok(Date.now() - started < 5000, 'cut by the idle timeout, not left hanging');
  const silent = await request(`${gw.url}/v2/app/blobs/sha256:${'e'.repeat(64)}`);
  t.equal(silent.status, 504);
  t.equal(JSON.parse(silent.body.toString()).errors[0].code, 'GATEWAY_TIMEOUT');
});

t.test('an unreachable upstream gives a blob GET 502 with a registry JSON error', async (t) => {
  const port = await freePort();
  const gw = await startGateway([`http://127.0.0.1:${port}`]);
  t.teardown(() => gw.close());
  const res = await request(`${gw.url}${BLOB_PATH}`);
  t.equal(res.status, 502);
  t.equal(JSON.parse(res.body.toString()).errors[0].code, 'BAD_GATEWAY');
});

t.test('a pooled connection the upstream closed while idle is replaced transparently', async (t) => {
  const up = await fakeUpstream((_req, res) => res.writeHead(200, { 'content-length': 5 }).end('hello'));
  const gw = await startGateway([up.url]);
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  t.equal((await request(`${gw.url}${BLOB_PATH}`)).body.toString(), 'hello');
  up.server.closeIdleConnections();
  await new Promise((r) => setTimeout(r, 100));
  const again = await request(`${gw.url}${BLOB_PATH}`);
  t.equal(again.status, 200);
  t.equal(again.body.toString(), 'hello');
});

t.test(
  'HEADs (manifest by tag, blob) answer with the member headers and no body, over pooled connections',
  async (t) => {
    const connections = new Set<Socket>();
    const methods = new Set<string>();
    // The member holds tag HEADs until `barrier` of them are in, so they really run at once.
    let barrier = 1;
    let held: (() => void)[] = [];
    const up = await fakeUpstream((req, res) => {
      connections.add(req.socket);
      methods.add(req.method!);
      const answer = () =>
        res
          .writeHead(200, {
            'content-length': 1234,
            'docker-content-digest': DIGEST,
            'content-type': 'application/vnd.oci.image.manifest.v1+json',
          })
          .end();
      if (req.url === '/v2/app/manifests/v1') {
        held.push(answer);
        if (held.length >= barrier) for (const go of held.splice(0)) go();
      } else if (req.url === '/v2/app/manifests/missing')
        res.writeHead(404, { 'content-type': 'application/json', 'content-length': 40 }).end();
      else
        res
          .writeHead(200, {
            'content-length': 1234,
            'docker-content-digest': DIGEST,
            'content-type': 'application/vnd.oci.image.manifest.v1+json',
          })
          .end();
    });
    const gw = await startGateway([up.url]);
    t.teardown(async () => {
      await gw.close();
      await up.close();
    });
    const byTag = await request(`${gw.url}/v2/app/manifests/v1`, { method: 'HEAD' });
    t.equal(byTag.status, 200);
    t.equal(byTag.headers['content-length'], '1234', 'the length of the document the member would send');
    t.equal(byTag.headers['docker-content-digest'], DIGEST);
    t.equal(byTag.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');
    t.equal(byTag.body.length, 0);
    const missing = await request(`${gw.url}/v2/app/manifests/missing`, { method: 'HEAD' });
    t.equal(missing.status, 404);
    t.equal(missing.body.length, 0);
    const blob = await request(`${gw.url}${BLOB_PATH}`, { method: 'HEAD' });
    t.equal(blob.status, 200);
    t.equal(blob.headers['content-length'], '1234');
    t.same([...methods], ['HEAD'], 'the member was asked with HEAD');
    // A client running 48 HEADs at once, twice: the second round reuses the first round's connections.
    barrier = 48;
    held = [];
    for (let round = 0; round < 2; round++) {
      const all = await Promise.all(
        Array.from({ length: 48 }, () => request(`${gw.url}/v2/app/manifests/v1`, { method: 'HEAD' })),
      );
      t.ok(
        all.every((r) => r.status === 200 && r.headers['docker-content-digest'] === DIGEST),
        `round ${round + 1}: all answered`,
      );
    }
    t.ok(connections.size <= 50, `the second round reused the first round's connections (${connections.size} in all)`);
  },
);
