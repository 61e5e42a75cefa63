/**
 * Hostile input against a running portcullis (embedded core, htpasswd auth): every shape gets
 * a 4xx JSON error or, for protocol violations, a closed connection; the process never
 * crashes and its memory stays bounded.
 */
import t from 'tap';
import net from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  execFileP,
  fetchInsecure,
  type Running,
} from '../helpers/processes.js';

let gw: Running;
let port: number;
let base: string;
const AUTH = `Basic ${Buffer.from('alice:pw').toString('base64')}`;

/**
 * Send raw bytes and collect the answer until the server closes the connection or `ms` pass;
 * `closed` says which. The socket is left open on our side, so only the server can close it.
 */
function raw(bytes: string | Buffer, ms = 1500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const done = (closed: boolean) => () => {
      s.destroy();
      resolve({ text: out, closed });
    };
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    s.on('end', done(true));
    s.on('close', done(true));
    s.on('error', done(true));
    s.setTimeout(ms, done(false));
    s.write(bytes);
  });
}

function rss(): number {
  const status = readFileSync(`/proc/${gw.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

t.before(async () => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const htpasswd = join(dir, 'h');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'pw']);
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  gw = await startPortcullis(
    [
      '--storage',
      join(dir, 'data'),
      '--listen',
      `127.0.0.1:${port}`,
      '--htpasswd',
      htpasswd,
      '--header-timeout',
      '2s',
      '--brute-force-max',
      '100000',
    ],
    { probe: `${base}/_ping` },
  );
  t.teardown(() => gw.stop());
});

t.afterEach(async () => {
  t.equal(gw.proc.exitCode, null, 'portcullis still running');
});

t.test('any Authorization header value: 401/400 JSON, never a crash', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string().map((s) => `Basic ${s}`),
        fc.string().map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
        fc.tuple(fc.string(), fc.string()).map(([u, p]) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`),
        fc.string().map((s) => `Bearer ${s}`),
      ),
      async (value) => {
        const safe = value.replace(/[^\t\x20-\x7e]/g, '');
        const r = await fetchInsecure(`${base}/v2/`, { headers: { authorization: safe } });
        return (
          (r.status === 401 || r.status === 400 || r.status === 429) &&
          r.headers['docker-distribution-api-version'] === 'registry/2.0'
        );
      },
    ),
    { numRuns: 150 },
  );
  const huge = await raw(`GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${'A'.repeat(100_000)}\r\n\r\n`);
  t.match(huge.text, /^HTTP\/1\.1 431/, 'oversized header → 431');
});

t.test('request smuggling shapes are refused with 400 and the connection closed', async (t) => {
  const shapes = [
    'POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
    'GET /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n',
    'GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET /v2/\x00 HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const s of shapes) {
    const r = await raw(s);
    t.match(r.text, /^HTTP\/1\.1 4\d\d/, JSON.stringify(s.slice(0, 60)));
    t.ok(r.closed, `the server closed the connection after ${JSON.stringify(s.slice(0, 30))}`);
  }
});

t.test('header floods, very long URLs and slowloris are cut off', async (t) => {
  const flood =
    'GET /v2/ HTTP/1.1\r\nHost: x\r\n' +
    Array.from({ length: 9000 }, (_, i) => `X-Header-${i}: v`).join('\r\n') +
    '\r\n\r\n';
  t.match((await raw(flood)).text, /^HTTP\/1\.1 431/);
  t.match((await raw(`GET /v2/${'a'.repeat(80_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)).text, /^HTTP\/1\.1 431/);
  // One byte a second: the header timeout (2s here) closes the connection.
  const started = Date.now();
  const closed = await new Promise<number>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const req = 'GET /v2/ HTTP/1.1\r\nHost: x\r\n';
    let i = 0;
    const tick = setInterval(() => {
      if (i < req.length && s.writable) s.write(req[i++]!);
    }, 500);
    s.on('close', () => {
      clearInterval(tick);
      resolve(Date.now() - started);
    });
    s.on('error', () => {});
    s.on('data', () => {});
  });
  t.ok(closed < 8000, `slowloris connection closed after ${closed} ms`);
});

t.test('path traversal, bad names and bad digests: 4xx JSON', async (t) => {
  const paths = [
    '/v2/../../etc/passwd',
    '/v2/%2e%2e/%2e%2e/etc/manifests/x',
    '/v2/a%2Fb/manifests/latest',
    '/v2/a/blobs/sha256:..%2F..%2Fetc',
    '/v2/a/blobs/md5:abc',
    '/v2/a/blobs/sha256:zz',
    `/v2/a/manifests/sha256:${'a'.repeat(63)}`,
    '/v2/UPPER/manifests/x',
    '/v2/a/blobs/uploads/..%2F..%2Fx',
    '/v2/a/manifests/%00',
  ];
  for (const p of paths) {
    const r = await fetchInsecure(`${base}${p}`, { headers: { authorization: AUTH } });
    t.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
    t.doesNotThrow(() => JSON.parse(r.body).errors[0].code, 'JSON error');
  }
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => {
      const r = await fetchInsecure(`${base}/v2/${encodeURIComponent(s)}/manifests/${encodeURIComponent(s)}`, {
        headers: { authorization: AUTH },
      });
      return r.status >= 400 && r.status < 500;
    }),
    { numRuns: 100 },
  );
});

t.test('manifests that are huge, deeply nested, not JSON or self-referencing: 4xx JSON', async (t) => {
  const put = (body: string | Buffer, type = 'application/vnd.oci.image.manifest.v1+json') =>
    fetchInsecure(`${base}/v2/hostile/app/manifests/x`, {
      method: 'PUT',
      headers: { authorization: AUTH, 'content-type': type },
      body,
    });
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const cases: [string, string | Buffer][] = [
    ['not JSON', 'not json at all'],
    ['deeply nested', deep],
    ['huge (5 MiB)', Buffer.alloc(5 << 20, 0x20)],
    [
      'self-referencing index',
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 10 },
        ],
      }),
    ],
    ['wrong types', JSON.stringify({ schemaVersion: '2', config: 5, layers: 'x' })],
  ];
  for (const [what, body] of cases) {
    const r = await put(
      body,
      what === 'self-referencing index' ? 'application/vnd.oci.image.index.v1+json' : undefined,
    );
    t.ok(r.status >= 400 && r.status < 500, `${what} → ${r.status}`);
    t.doesNotThrow(() => JSON.parse(r.body).errors[0].code, `${what}: JSON error`);
  }
});

t.test('Range headers that overflow or make no sense never crash', async (t) => {
  // A real blob to range over.
  const data = Buffer.from('0123456789');
  const { createHash } = await import('node:crypto');
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const up = await fetchInsecure(`${base}/v2/hostile/range/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/octet-stream' },
    body: data,
  });
  t.equal(up.status, 201);
  for (const range of [
    'bytes=99999999999999999999999-',
    'bytes=5-2',
    'bytes=-0',
    'bytes=abc',
    'bytes=0-1,3-4',
    'items=0-1',
    'bytes=18446744073709551616-18446744073709551617',
    'bytes=-99999999999999999999',
  ]) {
    const r = await fetchInsecure(`${base}/v2/hostile/range/blobs/${digest}`, {
      headers: { authorization: AUTH, range },
    });
    t.ok([200, 206, 416].includes(r.status), `${range} → ${r.status}`);
  }
});

t.test('memory stays bounded after all of the above', async (t) => {
  const before = rss();
  for (let i = 0; i < 300; i++)
    await fetchInsecure(`${base}/v2/x/manifests/${i}`, {
      headers: { authorization: `Basic ${Buffer.from(`u${i}:p${i}`).toString('base64')}` },
    });
  const after = rss();
  const mib = (n: number) => (n / 1048576).toFixed(0);
  t.ok(after < 200 << 20, `RSS ${mib(after)} MiB`);
  // 300 failed logins with distinct users: the brute-force and credential caches are bounded.
  t.ok(after - before < 32 << 20, `RSS grew ${mib(after - before)} MiB over 300 requests (from ${mib(before)} MiB)`);
});
