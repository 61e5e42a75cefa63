import t from 'tap';
import { hostname } from 'node:os';
import { VERSION } from '../../src/version.js';
import { freePort } from '../helpers/processes.js';
import { get, startHarness, until } from './fixtures/harness.js';

t.test('/_ping answers true (seed 002)', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const r = await get(h.base, '/_ping');
  t.equal(r.status, 200);
  t.equal(r.body, 'true');
  t.equal(JSON.parse(r.body), true, 'valid JSON, like the v1 registry answered');
});

t.test('/_status: host, version, uptime, services; 200 when all healthy', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const r = await get(h.base, '/_status');
  t.equal(r.status, 200);
  const doc = JSON.parse(r.body);
  t.equal(doc.host, hostname());
  t.equal(doc.version, VERSION);
  t.type(doc.uptime, 'number');
  t.same(doc.services, [{ name: new URL(h.upstream).host, kind: 'upstream', healthy: true, failures: 0 }]);
  t.same(doc.failures, {});
});

t.test('/_status answers 503 naming the failure when a service is down', async (t) => {
  // A second upstream member nobody listens on: the active health check finds it refused.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const h = await startHarness({ moreUpstreams: [dead], flags: { healthInterval: '100ms' } });
  t.teardown(h.close);
  const r = await until(
    () => get(h.base, '/_status'),
    (r) => r.status === 503,
  );
  t.equal(r.status, 503);
  const doc = JSON.parse(r.body);
  t.same(Object.keys(doc.failures), [new URL(dead).host], 'only the dead member is named');
  t.match(doc.failures[new URL(dead).host], /ECONNREFUSED/);
  t.ok(doc.services[1].failures >= 1, 'its failures are counted');
  t.equal(doc.services[0].healthy, true, 'the live member stays healthy');
});

t.test('/_status answers 503 when the health callback itself fails', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  // A backend whose health check throws (no real backend can be made to on demand).
  h.gateway.backend.health = async () => {
    throw new Error('storage unreachable');
  };
  const r = await get(h.base, '/_status');
  t.equal(r.status, 503);
  t.same(JSON.parse(r.body).failures, { health: 'storage unreachable' });
});
