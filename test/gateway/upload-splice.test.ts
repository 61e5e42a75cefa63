// Blob upload bodies through the upstream backend take the splice path (src/backends/upload-splice.ts)
// to a real registry:2: what a client pushing layers notices — every byte arrives (registry:2
// checks the digest), refusals come back while the body is still going out, an aborted push
// leaves the gateway's member connections usable, and memory does not grow with the layer.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { fakeUpstream, startGateway, request } from '../helpers/gateway.js';
import { startRegistry2 } from '../helpers/processes.js';

const registry = await startRegistry2();
t.teardown(() => registry.stop());

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Random content, so a reordered, repeated or dropped piece changes the digest. */
const layer = randomBytes(48 << 20);
const DIGEST = digestOf(layer);

async function startUpload(gw: string, repo: string): Promise<URL> {
  const res = await request(`${gw}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (res.status !== 202) throw new Error(`POST answered ${res.status}`);
  return new URL(res.headers.location!, gw);
}

/**
 * Send `body` to `url` in pieces of an odd size (so they never line up with the gateway's
 * blocks), chunked or with a Content-Length, with backpressure; resolves with the answer.
 */
function send(
  url: URL | string,
  method: string,
  body: Buffer,
  opts: { chunked: boolean; headers?: http.OutgoingHttpHeaders; piece?: number },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const framing = opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) };
    const req = http.request(url, { method, agent: false, headers: { ...framing, ...opts.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    const piece = opts.piece ?? 65_537;
    let off = 0;
    const pump = () => {
      while (off < body.length) {
        const part = body.subarray(off, off + piece);
        off += part.length;
        if (!req.write(part)) return void req.once('drain', pump);
      }
      req.end();
    };
    if (opts.headers?.expect) req.once('continue', pump);
    else pump();
  });
}

/** Upload `body` as chunked PATCHes of `parts` pieces then a closing PUT; returns the PUT's answer. */
async function push(gw: string, repo: string, body: Buffer, chunked: boolean, parts = 1) {
  let url = await startUpload(gw, repo);
  const step = Math.ceil(body.length / parts);
  for (let off = 0; off < body.length; off += step) {
    const res = await send(url, 'PATCH', body.subarray(off, off + step), { chunked });
    if (res.status !== 202) throw new Error(`PATCH answered ${res.status}: ${res.body}`);
    url = new URL(res.headers.location!, gw);
  }
  url.searchParams.set('digest', digestOf(body));
  return request(url.href, { method: 'PUT', headers: { 'content-length': '0' } });
}

t.test('chunked and Content-Length uploads reach registry:2 byte for byte', async (t) => {
  const gw = await startGateway([registry.url]);
  t.teardown(() => gw.close());
  // docker and skopeo: chunked PATCHes, here in three parts so the session moves on twice
  const chunked = await push(gw.url, 'splice/chunked', layer, true, 3);
  t.equal(chunked.status, 201, 'registry:2 took the chunked upload (it checks the digest)');
  t.equal(chunked.headers['docker-content-digest'], DIGEST);
  t.match(
    chunked.headers.location,
    new RegExp(`^${gw.url}/v2/splice/chunked/blobs/sha256:`),
    'Location points at the gateway',
  );
  const back = await request(`${gw.url}/v2/splice/chunked/blobs/${DIGEST}`);
  t.equal(back.body.length, layer.length);
  t.equal(digestOf(back.body), DIGEST, 'the blob reads back byte for byte');

  // Content-Length PATCH behind Expect: 100-continue (the gateway answers the 100 itself)
  const small = layer.subarray(0, (5 << 20) + 3);
  let url = await startUpload(gw.url, 'splice/length');
  const patched = await send(url, 'PATCH', small, { chunked: false, headers: { expect: '100-continue' } });
  t.equal(patched.status, 202);
  t.equal(patched.headers.range, `0-${small.length - 1}`, 'registry:2 got every byte');
  url = new URL(patched.headers.location!, gw.url);
  url.searchParams.set('digest', digestOf(small));
  const put = await request(url.href, { method: 'PUT', headers: { 'content-length': '0' } });
  t.equal(put.status, 201);

  // a monolithic upload: the whole blob in the PUT that closes the session, with a Content-Length
  url = await startUpload(gw.url, 'splice/monolithic');
  url.searchParams.set('digest', DIGEST);
  const whole = await send(url, 'PUT', layer, {
    chunked: false,
    headers: { 'content-type': 'application/octet-stream' },
  });
  t.equal(whole.status, 201, whole.body);
  t.equal(whole.headers['docker-content-digest'], DIGEST);
});

t.test('a refusal before the body ended comes back while the client is still sending', async (t) => {
  const gw = await startGateway([registry.url]);
  t.teardown(() => gw.close());
  // registry:2 refuses a PATCH to an upload it does not know (its state token does not verify)
  // without reading the body
  const unknown = `${gw.url}/v2/splice/early/blobs/uploads/00000000-0000-0000-0000-000000000000?_state=x`;
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(unknown, { method: 'PATCH', agent: false, headers: { 'transfer-encoding': 'chunked' } });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode!, body });
        req.destroy();
      });
    });
    // 4 MiB, then nothing more: the body never ends unless the answer comes first
    req.write(layer.subarray(0, 4 << 20));
    setTimeout(() => reject(new Error('no answer within 10 s while the body was unfinished')), 10_000).unref();
  });
  const direct = await request(unknown.replace(gw.url, registry.url), { method: 'PATCH', body: '' });
  t.equal(answer.status, direct.status);
  t.equal(answer.status, 404);
  t.equal(answer.body, direct.body.toString(), 'the registry error JSON as sent');
  // the member connection that was refused is not reused: the next uploads go through whole
  const next = await push(gw.url, 'splice/early', layer.subarray(0, 3 << 20), true);
  t.equal(next.status, 201);
  const again = await push(gw.url, 'splice/early', layer.subarray(0, 2 << 20), false);
  t.equal(again.status, 201);
});

t.test('a client that aborts mid-upload leaves the gateway able to push on its pooled connections', async (t) => {
  const gw = await startGateway([registry.url]);
  t.teardown(() => gw.close());
  // a finished push first, so the member connection pool holds a connection to reuse
  t.equal((await push(gw.url, 'splice/abort', layer.subarray(0, 1 << 20), true)).status, 201);
  for (const chunked of [true, false]) {
    const url = await startUpload(gw.url, 'splice/abort');
    const req = http.request(url, {
      method: 'PATCH',
      agent: false,
      headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(layer.length) },
    });
    req.on('error', () => {});
    await new Promise<void>((r) => req.write(layer.subarray(0, 8 << 20), () => r()));
    // let the gateway pass those bytes on, then go away mid-body
    await new Promise((r) => setTimeout(r, 300));
    req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    // the next pushes (and a HEAD) on the same gateway go through whole
    for (let i = 0; i < 3; i++) {
      const part = layer.subarray(i << 20, (i + 2) << 20);
      const res = await push(gw.url, 'splice/abort', part, i % 2 === 0);
      t.equal(res.status, 201, `push ${i + 1} after an aborted ${chunked ? 'chunked' : 'Content-Length'} upload`);
      const head = await request(`${gw.url}/v2/splice/abort/blobs/${digestOf(part)}`, { method: 'HEAD' });
      t.equal(head.headers['content-length'], String(part.length));
    }
  }
});

t.test('memory does not grow with the size of an upload', async (t) => {
  const gw = await startGateway([registry.url]);
  t.teardown(() => gw.close());
  const big = Buffer.concat(Array.from({ length: 8 }, () => layer));
  const url = await startUpload(gw.url, 'splice/memory');
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const res = await send(url, 'PATCH', big, { chunked: true, piece: 1 << 20 });
  clearInterval(sampler);
  t.equal(res.status, 202);
  t.equal(res.headers.range, `0-${big.length - 1}`);
  t.ok(peak - before < 32 << 20, `RSS grew ${((peak - before) / 1048576).toFixed(1)} MiB for a 384 MiB upload`);
});

t.test('a member that takes an upload and never answers gets 504 after the idle timeout', async (t) => {
  // registry:2 always answers; a member hanging after the body is a fault only a stand-in can cause
  let received = 0;
  const up = await fakeUpstream((req) => {
    req.on('data', (c: Buffer) => {
      received += c.length;
    });
  });
  const gw = await startGateway([up.url], { idleTimeoutMs: 400 });
  t.teardown(async () => {
    await gw.close();
    await up.close();
  });
  const res = await send(`${gw.url}/v2/splice/idle/blobs/uploads/u1?_state=x`, 'PATCH', layer.subarray(0, 1 << 20), {
    chunked: true,
  });
  t.equal(res.status, 504);
  t.equal(JSON.parse(res.body).errors[0].code, 'GATEWAY_TIMEOUT');
  t.equal(received, 1 << 20, 'the member had the whole body');
});
