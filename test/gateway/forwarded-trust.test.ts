import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { resolveClient } from '../../src/gateway/forwarded.js';
import { parseCidrs } from '../../src/config/addresses.js';

function fakeReq(peer: string, headers: Record<string, string>, encrypted = false): IncomingMessage {
  return { socket: { remoteAddress: peer, encrypted }, headers } as unknown as IncomingMessage;
}

t.test('an untrusted peer cannot choose its scheme, host or IP', async (t) => {
  const c = resolveClient(
    fakeReq('203.0.113.9', {
      host: 'reg:5000',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '1.1.1.1',
      'x-forwarded-host': 'evil',
    }),
    parseCidrs([]),
  );
  t.same(c, { ip: '203.0.113.9', peer: '203.0.113.9', scheme: 'http', host: 'reg:5000', priorForwardedFor: undefined });
});

t.test('a TLS socket means https', async (t) => {
  t.equal(resolveClient(fakeReq('127.0.0.1', { host: 'reg' }, true), parseCidrs([])).scheme, 'https');
});

t.test('a trusted TLS terminator (ELB, seed 001) sets scheme, host and client IP', async (t) => {
  const c = resolveClient(
    fakeReq('::ffff:10.0.0.5', {
      host: 'internal:8080',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'registry.example.com',
      'x-forwarded-for': '198.51.100.4, 10.0.0.9',
    }),
    parseCidrs(['10.0.0.0/8']),
  );
  t.equal(c.scheme, 'https');
  t.equal(c.host, 'registry.example.com');
  t.equal(c.ip, '198.51.100.4', 'rightmost hop that is not a trusted proxy');
  t.equal(c.peer, '10.0.0.5');
});

t.test('RFC 7239 Forwarded from a trusted peer wins over X-Forwarded-* (as in distribution)', async (t) => {
  const c = resolveClient(
    fakeReq('10.0.0.5', {
      host: 'a',
      forwarded: 'for=1.2.3.4;proto=https;host="reg.example"',
      'x-forwarded-proto': 'http',
    }),
    parseCidrs(['10.0.0.0/8']),
  );
  t.equal(c.scheme, 'https');
  t.equal(c.host, 'reg.example');
});

t.test(
  'multi-valued X-Forwarded-Proto never yields "https, http" (docs/pitfalls.md: "Multi-valued and untrusted X-Forwarded-* headers")',
  async (t) => {
    const c = resolveClient(
      fakeReq('10.0.0.5', { host: 'a', 'x-forwarded-proto': 'https, http' }),
      parseCidrs(['10.0.0.0/8']),
    );
    t.equal(c.scheme, 'https');
  },
);

t.test('--public-url fixes the origin', async (t) => {
  const c = resolveClient(
    fakeReq('127.0.0.1', { host: 'localhost:5000' }),
    parseCidrs([]),
    new URL('https://registry.example.com'),
  );
  t.equal(c.scheme, 'https');
  t.equal(c.host, 'registry.example.com');
});
