import t from 'tap';
import { createAllowList } from '../../src/stats/allow-list.js';
import { get, startHarness } from './fixtures/harness.js';

t.test('CIDR matching for IPv4, IPv6 and IPv4-mapped IPv6', async (t) => {
  const a = createAllowList(['127.0.0.0/8', '::1/128', '10.1.0.0/16', '192.0.2.7']);
  t.ok(a.allows('127.0.0.1'));
  t.ok(a.allows('127.255.0.9'));
  t.ok(a.allows('::1'));
  t.ok(a.allows('::ffff:127.0.0.1'), 'dual-stack sockets report IPv4 peers as mapped addresses');
  t.ok(a.allows('10.1.200.3'));
  t.notOk(a.allows('10.2.0.1'));
  t.ok(a.allows('192.0.2.7'), 'a bare address is a /32');
  t.notOk(a.allows('192.0.2.8'));
  t.notOk(a.allows('2001:db8::1'));
  t.notOk(a.allows(''), 'an unknown peer address is never allowed');
  t.notOk(a.allows('not-an-ip'));
});

t.test('invalid entries fail loudly and name the entry', async (t) => {
  t.throws(() => createAllowList(['10.0.0.0/33']), /10\.0\.0\.0\/33/);
  t.throws(() => createAllowList(['localhost']), /localhost/);
  t.throws(() => createAllowList(['10.0.0.0/8/1']), /10\.0\.0\.0\/8\/1/);
  t.throws(() => createAllowList(['::/x']), /prefix/);
});

t.test('stats endpoints answer 403 JSON outside the allow-list; /_ping needs no allow-list', async (t) => {
  const h = await startHarness({ flags: { statsAllow: ['10.0.0.0/8'] } });
  t.teardown(h.close);
  for (const path of ['/nginx_status', '/metrics', '/-/stats', '/-/stats/events', '/_status']) {
    const r = await get(h.base, path);
    t.equal(r.status, 403, path);
    t.match(r.headers['content-type'], /^application\/json/);
    t.same(JSON.parse(r.body).errors[0].code, 'DENIED', path);
  }
  const ping = await get(h.base, '/_ping');
  t.equal(ping.status, 200);
  t.equal(ping.body, 'true');
  t.equal(h.records.length, 0, 'stats requests are never recorded');
});
