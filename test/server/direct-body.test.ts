/**
 * Blob upload bodies read straight off the socket (src/server/direct-body.ts), on the real
 * listener (Node's TLS and plain HTTP servers as portcullis configures them) with raw client
 * sockets: what a client pushing a layer notices is that every byte arrives in order, the
 * connection serves its next request (also one pipelined right behind the body), a broken
 * body gets a 400, an abort or a stall ends the request, and a handler that does not read
 * holds the client back. What only the handler sees: the body comes in 256 KiB blocks instead
 * of Node's 16 KiB pieces (which is the point: the CPU per GB of a push).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { createListener, type Listener } from '../../src/server/listeners.js';
import { selfSigned } from '../../src/server/tls.js';
import { freePort, removeDir, tempDir } from '../helpers/processes.js';

/** A listener may read bodies in blocks other than the default 256 KiB (ListenerOptions.bodyBlock). */
const LARGE_BLOCK = 1024 * 1024;

const KiB = 1024;
const BLOCK = 256 * KiB;
const UPLOAD = '/v2/team/app/blobs/uploads/5c1d4e2f';
const work = await tempDir();
t.teardown(() => removeDir(work));
const material = await selfSigned(join(work, 'tls'), ['127.0.0.1']);

interface Seen {
  bytes: number;
  digest: string;
  pieces: number[];
}
/** What the handler saw of each request, in order; `aborted` lists the URLs of aborted ones. */
const seen: Seen[] = [];
const aborted: string[] = [];
/** Requests whose handler waits this long before reading the body. */
let holdMs = 0;
const bytesReadAtRelease: number[] = [];

const handler: http.RequestListener = (req, res) => {
  const hash = createHash('sha256');
  const s: Seen = { bytes: 0, digest: '', pieces: [] };
  req.on('aborted', () => aborted.push(req.url ?? ''));
  const read = () => {
    req.on('data', (c: Buffer) => {
      s.pieces.push(c.length);
      s.bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      s.digest = hash.digest('hex');
      seen.push(s);
      const body = JSON.stringify(s);
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
  if (req.url?.endsWith('/hold') && holdMs > 0)
    setTimeout(() => {
      bytesReadAtRelease.push(req.socket.bytesRead);
      read();
    }, holdMs);
  else read();
};

async function start(
  secure: boolean,
  idleTimeoutMs = 60_000,
  headerTimeoutMs = 5000,
  bodyBlock?: number,
): Promise<{ port: number; server: Listener }> {
  const server = createListener(handler, {
    tls: secure ? material : undefined,
    tlsMinVersion: 'TLSv1.2',
    headerTimeoutMs,
    keepAliveTimeoutMs: 5000,
    idleTimeoutMs,
    bodyBlock,
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port, server };
}

const tlsServer = await start(true);
const plainServer = await start(false);

function connect(secure: boolean, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = secure
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s))
      : net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

interface Answer {
  status: number;
  headers: string;
  body: string;
}

/** Reads the answers the server sends (each with a Content-Length), until `count` or the end. */
function answers(socket: net.Socket, count: number): Promise<Answer[]> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const out: Answer[] = [];
    const parse = () => {
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
        if (status === 100) {
          buf = buf.subarray(end + 4);
          continue;
        }
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        out.push({ status, headers: head, body: buf.subarray(end + 4, end + 4 + len).toString() });
        buf = buf.subarray(end + 4 + len);
        if (out.length === count) {
          socket.off('data', onData);
          resolve(out);
          return;
        }
      }
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      parse();
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(out));
  });
}

/** Writes `parts` one after another, each waiting for the socket to take the previous one. */
async function writeAll(socket: net.Socket, parts: Buffer[]): Promise<void> {
  for (const p of parts) if (!socket.write(p)) await once(socket, 'drain');
}

/** `body` framed chunked in chunks of `size` bytes (some with an extension), with a trailer. */
function chunked(body: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let off = 0, i = 0; off < body.length; off += size, i++) {
    const piece = body.subarray(off, off + size);
    parts.push(
      Buffer.from(`${piece.length.toString(16)}${i % 3 === 1 ? ';ext=1' : ''}\r\n`),
      piece,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from('0\r\nx-trailer: 1\r\n\r\n'));
  return parts;
}

const head = (method: string, url: string, framing: string, extra = '') =>
  Buffer.from(`${method} ${url} HTTP/1.1\r\nHost: registry.test\r\n${framing}\r\n${extra}\r\n`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const parsed = (a: Answer | undefined) => JSON.parse(a?.body ?? '{}') as Seen;

for (const secure of [true, false]) {
  const port = secure ? tlsServer.port : plainServer.port;
  const name = secure ? 'TLS' : 'plain HTTP';

  t.test(`${name}: a layer with a Content-Length arrives whole, in 256 KiB blocks`, async (t) => {
    const body = randomBytes(3 * BLOCK * 2 + 12_345);
    const socket = await connect(secure, port);
    const got = answers(socket, 1);
    // Odd write sizes, so nothing lines up with the blocks.
    const parts = [head('PATCH', UPLOAD, `Content-Length: ${body.length}`)];
    for (let off = 0; off < body.length; off += 70_001) parts.push(body.subarray(off, off + 70_001));
    await writeAll(socket, parts);
    const [a] = await got;
    socket.destroy();
    const s = parsed(a);
    t.equal(a?.status, 201);
    t.equal(s.bytes, body.length);
    t.equal(s.digest, sha(body), 'every byte, in order');
    t.same(s.pieces.slice(0, -1), Array(s.pieces.length - 1).fill(BLOCK), 'full 256 KiB blocks but the last');
  });

  t.test(`${name}: a chunked layer (extensions, trailer) arrives whole; the connection then serves more`, async (t) => {
    const body = randomBytes(5 * BLOCK + 777);
    const socket = await connect(secure, port);
    const got = answers(socket, 3);
    await writeAll(socket, [head('PATCH', UPLOAD, 'Transfer-Encoding: chunked'), ...chunked(body, 32_771)]);
    // The next upload and a plain GET on the same connection, once the first is answered.
    await new Promise((r) => setTimeout(r, 200));
    const second = randomBytes(40_000);
    await writeAll(socket, [head('PUT', `${UPLOAD}?digest=x`, 'Transfer-Encoding: chunked'), ...chunked(second, 999)]);
    await writeAll(socket, [head('GET', '/v2/', 'Content-Length: 0')]);
    const [a, b, c] = await got;
    socket.destroy();
    t.equal(a?.status, 201);
    t.equal(parsed(a).digest, sha(body), 'every byte of the first body');
    t.same(
      parsed(a).pieces.slice(0, -1),
      Array(parsed(a).pieces.length - 1).fill(BLOCK),
      'full 256 KiB blocks but the last',
    );
    t.equal(parsed(b).digest, sha(second), 'the second upload on the same connection');
    t.equal(c?.status, 201, 'and the request after it');
    t.equal(parsed(c).bytes, 0);
  });

  t.test(`${name}: requests pipelined right behind an upload body are answered in order`, async (t) => {
    for (const framing of ['length', 'chunked']) {
      const body = randomBytes(BLOCK + 4_321);
      const socket = await connect(secure, port);
      const got = answers(socket, 3);
      const first =
        framing === 'chunked'
          ? Buffer.concat([head('PATCH', UPLOAD, 'Transfer-Encoding: chunked'), ...chunked(body, 50_000)])
          : Buffer.concat([head('PATCH', UPLOAD, `Content-Length: ${body.length}`), body]);
      const small = Buffer.from('tail of the pipeline');
      // One write: the end of the body, the next upload and a GET share TLS records and reads.
      await writeAll(socket, [
        Buffer.concat([
          first,
          head('PATCH', UPLOAD, `Content-Length: ${small.length}`),
          small,
          head('GET', '/v2/', 'Content-Length: 0'),
        ]),
      ]);
      const [a, b, c] = await got;
      socket.destroy();
      t.equal(parsed(a).digest, sha(body), `${framing}: the body`);
      t.equal(parsed(b).digest, sha(small), `${framing}: the pipelined upload`);
      t.equal(c?.status, 201, `${framing}: the pipelined GET`);
    }
  });

  t.test(`${name}: a malformed request after an upload on the same connection still gets a 400`, async (t) => {
    const socket = await connect(secure, port);
    const got = answers(socket, 2);
    const body = randomBytes(20_000);
    await writeAll(socket, [head('PATCH', UPLOAD, `Content-Length: ${body.length}`), body]);
    await new Promise((r) => setTimeout(r, 100));
    socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const [a, b] = await got;
    socket.destroy();
    t.equal(a?.status, 201);
    t.equal(b?.status, 400, 'the parser still refuses smuggling shapes');
  });

  t.test(`${name}: broken chunked framing gets a 400 JSON answer and the connection closes`, async (t) => {
    const socket = await connect(secure, port);
    const got = answers(socket, 1);
    const closed = once(socket, 'close');
    await writeAll(socket, [
      head('PATCH', `${UPLOAD}/broken`, 'Transfer-Encoding: chunked'),
      Buffer.from(`${(BLOCK + 10).toString(16)}\r\n`),
      randomBytes(BLOCK + 10),
      Buffer.from('\r\nzz-not-a-size\r\n'),
    ]);
    const [a] = await got;
    await closed;
    t.equal(a?.status, 400);
    t.match(a?.body, /"code":"BAD_REQUEST"/);
    for (let i = 0; i < 50 && !aborted.includes(`${UPLOAD}/broken`); i++) await new Promise((r) => setTimeout(r, 20));
    t.ok(aborted.includes(`${UPLOAD}/broken`), 'the handler sees the request end unfinished');
  });

  t.test(`${name}: a client that goes away mid-body aborts the request; the server keeps serving`, async (t) => {
    const before = aborted.length;
    const socket = await connect(secure, port);
    await writeAll(socket, [head('PATCH', `${UPLOAD}/abort`, 'Content-Length: 10000000'), randomBytes(3 * BLOCK)]);
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    for (let i = 0; i < 50 && !aborted.slice(before).includes(`${UPLOAD}/abort`); i++)
      await new Promise((r) => setTimeout(r, 20));
    t.ok(aborted.slice(before).includes(`${UPLOAD}/abort`), `the handler sees the abort (${aborted.slice(before)})`);
    const again = await connect(secure, port);
    const got = answers(again, 1);
    const body = randomBytes(1000);
    await writeAll(again, [head('PATCH', UPLOAD, `Content-Length: ${body.length}`), body]);
    const [a] = await got;
    again.destroy();
    t.equal(parsed(a).digest, sha(body));
  });

  t.test(`${name}: a handler that does not read yet holds the client back`, async (t) => {
    holdMs = 1000;
    t.teardown(() => {
      holdMs = 0;
    });
    const body = randomBytes(48 << 20);
    const socket = await connect(secure, port);
    const got = answers(socket, 1);
    const parts = [head('PATCH', `${UPLOAD}/hold`, `Content-Length: ${body.length}`)];
    for (let off = 0; off < body.length; off += 1 << 20) parts.push(body.subarray(off, off + (1 << 20)));
    await writeAll(socket, parts);
    const [a] = await got;
    socket.destroy();
    const read = bytesReadAtRelease.pop() ?? Number.POSITIVE_INFINITY;
    // The kernel's socket buffers hold a few MiB on loopback; the gateway itself at most a block or two.
    t.ok(read < 16 << 20, `server had read ${(read / 2 ** 20).toFixed(1)} MiB of 48 when the handler began`);
    t.equal(parsed(a).digest, sha(body), 'and then every byte');
  });
}

t.test('a body that stops arriving is cut by the idle timeout', async (t) => {
  const { port } = await start(true, 300);
  const before = aborted.length;
  const socket = await connect(true, port);
  const closed = once(socket, 'close');
  await writeAll(socket, [head('PATCH', `${UPLOAD}/stall`, 'Content-Length: 10000000'), randomBytes(BLOCK + 5)]);
  const started = Date.now();
  await closed;
  t.ok(Date.now() - started < 5000, 'closed within the idle timeout and its margin');
  for (let i = 0; i < 50 && !aborted.slice(before).includes(`${UPLOAD}/stall`); i++)
    await new Promise((r) => setTimeout(r, 20));
  t.ok(aborted.slice(before).includes(`${UPLOAD}/stall`), 'the handler sees the abort');
});

t.test('other requests with a body keep Node’s own reading', async (t) => {
  const socket = await connect(true, tlsServer.port);
  const got = answers(socket, 1);
  const body = randomBytes(BLOCK * 2);
  await writeAll(socket, [head('PUT', '/v2/team/app/manifests/v1', `Content-Length: ${body.length}`), body]);
  const [a] = await got;
  socket.destroy();
  t.equal(parsed(a).digest, sha(body));
  t.ok(Math.max(...parsed(a).pieces) <= 64 * KiB, 'pieces as Node reads them');
});

t.test(
  'after an upload the connection waits for its next request under the keep-alive timeout, not the header one',
  async (t) => {
    // Header timeout 400 ms (checked every 100 ms), keep-alive 5 s.
    const { port } = await start(true, 60_000, 400);
    const socket = await connect(true, port);
    const got = answers(socket, 2);
    const body = randomBytes(BLOCK + 1);
    await writeAll(socket, [head('PATCH', UPLOAD, `Content-Length: ${body.length}`), body]);
    await new Promise((r) => setTimeout(r, 1200));
    t.notOk(socket.destroyed, 'still open after three header timeouts');
    socket.write(head('GET', '/v2/', 'Content-Length: 0'));
    const [a, b] = await got;
    socket.destroy();
    t.equal(parsed(a).digest, sha(body));
    t.equal(b?.status, 201, 'the next request is served, not a 408');
  },
);

t.test(
  'closing idle connections (shutdown) spares an upload in flight and closes the connection after it',
  async (t) => {
    const { port, server } = await start(true);
    const socket = await connect(true, port);
    const got = answers(socket, 1);
    const body = randomBytes(4 * BLOCK);
    await writeAll(socket, [head('PATCH', UPLOAD, `Content-Length: ${body.length}`), body.subarray(0, BLOCK)]);
    await new Promise((r) => setTimeout(r, 100));
    server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 50));
    t.notOk(socket.destroyed, 'the upload goes on');
    await writeAll(socket, [body.subarray(BLOCK)]);
    const [a] = await got;
    t.equal(parsed(a).digest, sha(body), 'every byte');
    const closed = once(socket, 'close').then(() => 'closed');
    server.closeIdleConnections();
    const first = await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 2000))]);
    t.equal(first, 'closed', 'the idle connection is closed once the upload is answered');
  },
);

t.test('a listener set to 1 MiB blocks reads bodies in whole 1 MiB blocks, byte for byte', async (t) => {
  const { port } = await start(true, 60_000, 5000, LARGE_BLOCK);
  const body = randomBytes(3 * LARGE_BLOCK + 54_321);
  const socket = await connect(true, port);
  const got = answers(socket, 3);
  const parts = [head('PUT', `${UPLOAD}?digest=x`, `Content-Length: ${body.length}`)];
  for (let off = 0; off < body.length; off += 70_001) parts.push(body.subarray(off, off + 70_001));
  await writeAll(socket, parts);
  // The same connection goes on: a chunked body, then a request without one.
  await writeAll(socket, [head('PATCH', UPLOAD, 'Transfer-Encoding: chunked'), ...chunked(body, 40_009)]);
  await writeAll(socket, [head('GET', '/v2/', 'Content-Length: 0')]);
  const [a, b, c] = await got;
  socket.destroy();
  for (const [name, x] of [
    ['Content-Length', a],
    ['chunked', b],
  ] as const) {
    t.equal(parsed(x).digest, sha(body), `${name}: every byte, in order`);
    t.same(
      parsed(x).pieces,
      [LARGE_BLOCK, LARGE_BLOCK, LARGE_BLOCK, 54_321],
      `${name}: full 1 MiB blocks but the last`,
    );
  }
  t.equal(c?.status, 201, 'and the request after them is answered');
});
