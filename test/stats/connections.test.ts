/**
 * Connection states, counted like nginx, observed through the stub_status page itself.
 *
 * Every probe is one fresh connection that is itself in Writing while the page renders
 * (nginx shows the same), so "expect" adds it: active + 1, writing + 1.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import tls from 'node:tls';
import { tempDir, removeDir } from '../helpers/processes.js';
import {
  get,
  rawConnect,
  sleep,
  startHarness,
  stub,
  until,
  type Harness,
  type StubNumbers,
} from './fixtures/harness.js';

async function expectState(
  t: Test,
  h: Harness,
  want: { reading: number; writing: number; waiting: number },
  msg: string,
): Promise<StubNumbers> {
  const expected = {
    active: want.reading + want.writing + want.waiting + 1,
    reading: want.reading,
    writing: want.writing + 1,
    waiting: want.waiting,
  };
  const s = await until(
    () => stub(h.base),
    (s) =>
      s.active === expected.active &&
      s.reading === expected.reading &&
      s.writing === expected.writing &&
      s.waiting === expected.waiting,
  );
  t.same({ active: s.active, reading: s.reading, writing: s.writing, waiting: s.waiting }, expected, msg);
  return s;
}

t.test('a connection that has sent nothing is waiting; half a request header makes it reading', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const c = await rawConnect(h.port);
  await expectState(
    t,
    h,
    { reading: 0, writing: 0, waiting: 1 },
    'fresh idle connection = waiting (nginx: ngx_reusable_connection on accept)',
  );
  c.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
  await expectState(t, h, { reading: 1, writing: 0, waiting: 0 }, 'header incomplete = reading');
  c.write('User-Agent: docker/25.0\r\n\r\n');
  const reply = await new Promise<string>((resolve) => c.once('data', (d: Buffer) => resolve(d.toString())));
  t.match(reply, /^HTTP\/1\.1 200/);
  await expectState(t, h, { reading: 0, writing: 0, waiting: 1 }, 'after the response the keep-alive connection waits');
  c.write('GET /v2/ HTTP/1.1\r\nHo');
  await expectState(
    t,
    h,
    { reading: 1, writing: 0, waiting: 0 },
    'the next request on a reused connection is reading again',
  );
  c.destroy();
  await expectState(t, h, { reading: 0, writing: 0, waiting: 0 }, 'client gone: back to zero');
});

t.test('writing during a long response, and for the whole body upload', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const download = get(h.base, '/v2/team/app/blobs/sha256:aa?stream=1500&size=100000');
  await expectState(t, h, { reading: 0, writing: 1, waiting: 0 }, 'a blob download in progress is writing');
  const up = await rawConnect(h.port);
  up.write(`PATCH /v2/team/app/blobs/uploads/u1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(100)}`);
  await expectState(
    t,
    h,
    { reading: 0, writing: 2, waiting: 0 },
    'a body upload after the header is writing (nginx: request processing)',
  );
  up.write('x'.repeat(900));
  const resp = await new Promise<string>((resolve) => up.once('data', (d: Buffer) => resolve(d.toString())));
  t.match(resp, /^HTTP\/1\.1 202/);
  const d = await download;
  t.equal(d.body.length, 100000);
  await expectState(t, h, { reading: 0, writing: 0, waiting: 1 }, 'both done: the upload connection idles');
  up.destroy();
  await expectState(t, h, { reading: 0, writing: 0, waiting: 0 }, 'back to zero');
  const upload = h.records.find((r) => r.method === 'PATCH');
  t.equal(upload?.bytesIn, 1000);
});

t.test('idle keep-alive connections are waiting and accepted counts connections, not requests', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  t.teardown(() => agent.destroy());
  const before = await stub(h.base);
  const fetchOne = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get(`${h.base}/v2/team/app/manifests/latest`, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  await Promise.all([fetchOne(), fetchOne()]);
  for (let i = 0; i < 6; i++) await fetchOne();
  const s = await expectState(t, h, { reading: 0, writing: 0, waiting: 2 }, 'two idle keep-alive connections');
  t.equal(s.accepted - before.accepted, 3, 'two pooled connections + this probe');
  t.equal(s.requests - before.requests, 9, '8 requests + this probe');
  t.equal(s.handled, s.accepted);
  agent.destroy();
  await expectState(t, h, { reading: 0, writing: 0, waiting: 0 }, 'pool closed');
});

t.test('client aborts mid-response and mid-header bring the counts back to zero', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const socks = await Promise.all([1, 2, 3].map(() => rawConnect(h.port)));
  socks[0]!.write('GET /v2/team/app/blobs/sha256:aa?stream=5000&size=1000000 HTTP/1.1\r\nHost: x\r\n\r\n');
  socks[1]!.write('GET /v2/team/app/manifests/latest?delay=5000 HTTP/1.1\r\nHost: x\r\n\r\n');
  socks[2]!.write('GET /v2/ HTTP/1.1\r\n');
  await expectState(t, h, { reading: 1, writing: 2, waiting: 0 }, 'two in flight, one half-sent');
  for (const s of socks) s.destroy();
  await expectState(t, h, { reading: 0, writing: 0, waiting: 0 }, 'all aborted');
  // The aborted requests are still reported once each, as the gateway will.
  await until(
    async () => h.records.length,
    (n) => n === 2,
  );
  t.equal(h.records.length, 2);
});

t.test('server timeouts (header, request, keep-alive) bring the counts back to zero', async (t) => {
  const h = await startHarness({
    flags: { headerTimeout: '300ms', idleTimeout: '300ms', keepAliveTimeout: '300ms' },
  });
  t.teardown(h.close);
  const half = await rawConnect(h.port);
  half.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
  const slowBody = await rawConnect(h.port);
  slowBody.write(
    'PUT /v2/team/app/blobs/uploads/u2?digest=sha256:aa HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nabc',
  );
  const idle = await rawConnect(h.port);
  idle.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
  await expectState(t, h, { reading: 1, writing: 1, waiting: 1 }, 'one of each');
  // resume(): a paused socket never reads the server's FIN, so it would never close.
  const closed = (s: import('node:net').Socket) =>
    new Promise<void>((resolve) => (s.destroyed ? resolve() : s.resume().once('close', () => resolve())));
  await Promise.all([closed(half), closed(slowBody), closed(idle)]);
  await expectState(t, h, { reading: 0, writing: 0, waiting: 0 }, 'the server timed all three out');
});

t.test('pipelined requests: one connection writing, every request counted', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const before = await stub(h.base);
  const c = await rawConnect(h.port);
  let got = '';
  c.on('data', (d: Buffer) => (got += d.toString()));
  c.write(
    'GET /v2/?delay=300 HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/?delay=10 HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  await expectState(t, h, { reading: 0, writing: 1, waiting: 0 }, 'one connection, three requests in flight');
  await until(
    async () => got,
    (g) => (g.match(/HTTP\/1\.1 200/g) ?? []).length === 3,
  );
  const s = await expectState(t, h, { reading: 0, writing: 0, waiting: 1 }, 'all answered, idle');
  t.equal(s.requests - before.requests, 3 + 2, 'three pipelined + two probes');
  c.destroy();
});

t.test('connections refused at maxConnections are accepted but not handled', async (t) => {
  const h = await startHarness({ maxConnections: 2 });
  t.teardown(h.close);
  let drops = 0;
  h.server.on('drop', () => drops++);
  const a = await rawConnect(h.port);
  const b = await rawConnect(h.port);
  await sleep(50);
  const c = await rawConnect(h.port); // dropped by the server
  await new Promise<void>((resolve) => (c.destroyed ? resolve() : c.resume().once('close', () => resolve())));
  a.destroy();
  // Until the server has seen `a` close, a probe would itself be dropped: retry.
  // (Such a dropped probe is itself one more accepted-but-not-handled connection.)
  const s = await until(
    () => stub(h.base).catch(() => null),
    (s) => s !== null,
  );
  t.ok(drops >= 1);
  t.equal(s && s.accepted - s.handled, drops, 'nginx: handled < accepted by the connections refused at the limit');
  b.destroy();
});

t.test('TLS: a handshake in progress is reading; keep-alive over TLS is waiting', async (t) => {
  const dir = await tempDir('stats-tls-');
  t.teardown(() => removeDir(dir));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-subj',
      '/CN=127.0.0.1',
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  const h = await startHarness({
    tls: { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') },
  });
  t.teardown(h.close);
  const hello = await rawConnect(h.port);
  hello.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // the start of a ClientHello record
  await expectState(t, h, { reading: 1, writing: 0, waiting: 0 }, 'TLS handshake bytes arrived: reading');
  hello.destroy();
  const s = tls.connect({ host: '127.0.0.1', port: h.port, rejectUnauthorized: false });
  await new Promise<void>((resolve) => s.once('secureConnect', () => resolve()));
  s.write('GET /v2/team/app/manifests/latest?delay=300 HTTP/1.1\r\nHost: x\r\n\r\n');
  await expectState(t, h, { reading: 0, writing: 1, waiting: 0 }, 'request over TLS: writing');
  await new Promise<void>((resolve) => s.once('data', () => resolve()));
  await expectState(t, h, { reading: 0, writing: 0, waiting: 1 }, 'kept alive over TLS: waiting');
  s.destroy();
  await expectState(t, h, { reading: 0, writing: 0, waiting: 0 }, 'closed');
  t.equal(h.records.length, 1);
  t.equal(h.records[0]!.operation, 'manifest_get');
});
