/**
 * Lingering close: a client still sending a body when the gateway answers early (413, 401, 403,
 * 404, 429, 400) gets to send all of it and read the answer, instead of a reset that loses the
 * answer; and a client that keeps sending cannot hold the connection past the bounds.
 * Raw sockets (plain and TLS) against the real binary, on both backends (registry:2 upstream).
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import {
  execFileP,
  freePort,
  removeDir,
  type Running,
  startPortcullis,
  startRegistry2,
  tempDir,
} from '../helpers/processes.js';

const MiB = 1 << 20;
const PASSWORD = 'alice-Secret-1';
const ALICE = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
const WRONG = `Basic ${Buffer.from('alice:wrong').toString('base64')}`;
const UPLOAD = '/v2/team-a/app/blobs/uploads/0b6f2a8e-5c1d-4e2f-9a7b-3c4d5e6f7a8b';

const work = await tempDir();
t.teardown(() => removeDir(work));
const htpasswd = join(work, 'users.htpasswd');
await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', PASSWORD]);
const access = join(work, 'access.yaml');
await writeFile(
  access,
  ['rules:', '  - repository: "team-a/*"', '    users: [alice]', '    actions: [pull, push, delete]'].join('\n'),
);

async function gateway(extra: string[], scheme = 'http'): Promise<{ port: number; proc: Running }> {
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--htpasswd', htpasswd, '--access', access, ...extra];
  const proc = await startPortcullis(args, { probe: `${scheme}://127.0.0.1:${port}/v2/` });
  t.teardown(() => proc.stop());
  return { port, proc };
}

interface Exchange {
  /** Everything the server sent. */
  response: string;
  /** Body bytes the client managed to write. */
  sent: number;
  /** The error a write or read met (a reset, a broken pipe), if any. */
  error?: string;
  /** The server ended the connection (FIN) rather than the client. */
  closedByServer: boolean;
  ms: number;
}

/**
 * One request on a fresh connection: the head, then `bytes` written as fast as the socket takes
 * them and the client's own end; or `trickleFor`: 100 bytes every 100 ms until the connection
 * breaks; or `stallAfter`: that many bytes, silence for `stallMs`, then a probe write that only a
 * closed connection refuses.
 */
async function exchange(
  port: number,
  head: string,
  body: { bytes: number } | { trickleFor: number } | { stallAfter: number; stallMs: number },
  opts: { tls?: boolean } = {},
): Promise<Exchange> {
  const started = Date.now();
  // Half-open allowed: the client goes on sending after the server's FIN, as a real uploader does.
  // (A TLS socket takes that from the TCP socket it wraps.)
  const tcp = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(tcp, 'connect');
  const sock: net.Socket = opts.tls ? tls.connect({ socket: tcp, rejectUnauthorized: false }) : tcp;
  if (opts.tls) await once(sock, 'secureConnect');
  const x: Exchange = { response: '', sent: 0, closedByServer: false, ms: 0 };
  sock.on('data', (d: Buffer) => {
    x.response += d.toString('latin1');
  });
  sock.on('end', () => {
    x.closedByServer = true;
  });
  sock.on('error', (e: NodeJS.ErrnoException) => {
    x.error ??= e.code ?? e.message;
  });
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  const gone = () => sock.destroyed || x.error !== undefined;
  const drained = () => Promise.race([new Promise<void>((r) => sock.once('drain', () => r())), closed]);
  sock.write(head);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  if ('bytes' in body) {
    while (x.sent < body.bytes && !gone()) {
      const n = Math.min(chunk.length, body.bytes - x.sent);
      const ok = sock.write(chunk.subarray(0, n));
      x.sent += n;
      if (!ok) await drained();
    }
  } else if ('stallAfter' in body) {
    sock.write(chunk.subarray(0, body.stallAfter));
    x.sent = body.stallAfter;
    await new Promise((r) => setTimeout(r, body.stallMs));
    // A socket the server has closed answers the first write with a reset, the next one fails.
    for (let i = 0; i < 5 && !gone(); i++) {
      sock.write('a');
      await new Promise((r) => setTimeout(r, 100));
    }
  } else {
    const until = Date.now() + body.trickleFor;
    while (Date.now() < until && !gone()) {
      sock.write(chunk.subarray(0, 100));
      x.sent += 100;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Wait for the server to close (bounded: a server that never closes fails the test below).
  const timer = setTimeout(() => sock.destroy(), 30_000);
  if (!gone()) sock.end();
  await closed;
  clearTimeout(timer);
  x.ms = Date.now() - started;
  return x;
}

const statusOf = (x: Exchange) => /^HTTP\/1\.1 (\d{3})/.exec(x.response)?.[1];

function head(method: string, path: string, length: number, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: registry.test', `Content-Length: ${length}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The early answer was read and the whole body went out without a reset. */
function answeredAfterWholeBody(t: Test, x: Exchange, status: string, bytes: number, what: string): void {
  t.equal(statusOf(x), status, `${what}: the client read the ${status} (got: ${x.response.slice(0, 40) || 'nothing'})`);
  t.equal(x.error, undefined, `${what}: no reset or broken pipe`);
  t.equal(x.sent, bytes, `${what}: the whole body was sent`);
  t.match(x.response, /\r\nconnection: close\r\n/i, `${what}: the answer says the connection closes`);
  t.ok(x.closedByServer, `${what}: then the server closed the connection`);
}

const BIG = 5 * MiB;
const storage = join(work, 'data');

t.test('embedded core: every early answer to a 5 MiB body is read, keep-alive or not', async (t) => {
  const { port } = await gateway(['--storage', storage]);
  const cases: [string, string, string, Record<string, string>][] = [
    ['413', 'PUT', '/v2/team-a/app/manifests/v1', { Authorization: ALICE }],
    ['401', 'PATCH', UPLOAD, {}],
    ['403', 'PUT', '/v2/other/app/manifests/v1', { Authorization: ALICE }],
    ['404', 'PATCH', UPLOAD, { Authorization: ALICE }],
    ['400', 'PUT', '/v2/team-a/app/manifests/-bad-tag', { Authorization: ALICE }],
  ];
  for (const [status, method, path, headers] of cases) {
    for (const connection of ['close', 'keep-alive']) {
      const x = await exchange(port, head(method, path, BIG, { ...headers, Connection: connection }), { bytes: BIG });
      answeredAfterWholeBody(t, x, status, BIG, `${method} ${path} (${connection})`);
    }
  }
});

t.test('embedded core over TLS: the 413 and the 401 are read', async (t) => {
  const { port } = await gateway(['--storage', storage, '--tls-self-signed'], 'https');
  const put = head('PUT', '/v2/team-a/app/manifests/v1', BIG, { Authorization: ALICE, Connection: 'close' });
  answeredAfterWholeBody(t, await exchange(port, put, { bytes: BIG }, { tls: true }), '413', BIG, 'TLS PUT');
  const patch = head('PATCH', UPLOAD, BIG, { Connection: 'close' });
  answeredAfterWholeBody(t, await exchange(port, patch, { bytes: BIG }, { tls: true }), '401', BIG, 'TLS PATCH');
});

t.test('too many wrong passwords: the 429 is read', async (t) => {
  const { port } = await gateway(['--storage', storage, '--brute-force-max', '2']);
  let x: Exchange | undefined;
  for (let i = 0; i < 5 && statusOf(x ?? ({ response: '' } as Exchange)) !== '429'; i++) {
    x = await exchange(port, head('PATCH', UPLOAD, BIG, { Authorization: WRONG, Connection: 'close' }), {
      bytes: BIG,
    });
    t.equal(x.error, undefined, `attempt ${i + 1}: no reset`);
  }
  answeredAfterWholeBody(t, x!, '429', BIG, 'blocked PATCH');
});

t.test('upstream registry:2: the gateway’s own 401 and the member’s early 4xx are read', async (t) => {
  const registry = await startRegistry2();
  t.teardown(() => registry.stop());
  const { port } = await gateway(['--upstream', registry.url]);
  const unauthenticated = head('PATCH', UPLOAD, BIG, { Connection: 'close' });
  answeredAfterWholeBody(t, await exchange(port, unauthenticated, { bytes: BIG }), '401', BIG, 'gateway 401');
  // registry:2 refuses a PATCH to an upload it never started without reading the body.
  for (const connection of ['close', 'keep-alive']) {
    const x = await exchange(port, head('PATCH', UPLOAD, BIG, { Authorization: ALICE, Connection: connection }), {
      bytes: BIG,
    });
    t.match(statusOf(x), /^4\d\d$/, `member answered ${statusOf(x)} (${connection})`);
    t.equal(x.error, undefined, `member's answer (${connection}): no reset or broken pipe`);
    t.equal(x.sent, BIG, `member's answer (${connection}): the whole body was sent`);
    t.ok(x.closedByServer, `member's answer (${connection}): then the gateway closed`);
  }
});

t.test('the time bounds hold: a client that trickles or stalls is closed', async (t) => {
  const { port } = await gateway(['--storage', storage, '--lingering-time', '3s', '--lingering-timeout', '1s']);
  // Declares 5 MiB, sends 100 bytes every 100 ms: never done, never idle for 1 s.
  const trickle = await exchange(port, head('PATCH', UPLOAD, BIG, { Connection: 'close' }), { trickleFor: 20_000 });
  t.equal(statusOf(trickle), '401', 'the trickling client read its answer');
  t.ok(trickle.error, `and its connection broke while it was still sending (${trickle.error})`);
  t.ok(trickle.ms < 20_000, `after ${trickle.ms} ms, before the client would have stopped on its own`);

  // Sends 1 KiB of a 5 MiB body, then nothing for 2 s: past the 1 s idle bound, within the 3 s total.
  const stall = await exchange(port, head('PATCH', UPLOAD, BIG, { Connection: 'close' }), {
    stallAfter: 1024,
    stallMs: 2000,
  });
  t.equal(statusOf(stall), '401', 'the stalled client read its answer');
  t.ok(stall.error, `and found the connection closed after its silence (${stall.error})`);
});

t.test('the byte bound holds: a 1 GiB body after an early answer is not read to the end', async (t) => {
  // Default time bounds (30 s, 5 s idle): only the byte bound can stop this fast client.
  const { port } = await gateway(['--storage', storage]);
  const GiB = 1024 * MiB;
  const flood = await exchange(port, head('PATCH', UPLOAD, GiB, { Connection: 'close' }), { bytes: GiB });
  t.equal(statusOf(flood), '401', 'the client read its answer');
  t.ok(flood.sent < GiB / 4, `the gateway stopped reading after ${Math.round(flood.sent / MiB)} MiB`);
});
