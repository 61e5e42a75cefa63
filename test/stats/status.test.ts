import t from 'tap';
import { hostname } from 'node:os';
import { get, startHarness } from './fixtures/harness.js';

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
  t.equal(doc.version, '0.1.0-test');
  t.type(doc.uptime, 'number');
  t.same(doc.services, [{ name: 'registry:5000', kind: 'upstream', healthy: true, failures: 0 }]);
  t.same(doc.failures, {});
});

t.test('/_status answers 503 naming the failure when a service is down', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  h.setHealth([
    { name: 'registry-a:5000', kind: 'upstream', healthy: true, failures: 0 },
    { name: 'registry-b:5000', kind: 'upstream', healthy: false, detail: 'connect ECONNREFUSED', failures: 3 },
  ]);
  const r = await get(h.base, '/_status');
  t.equal(r.status, 503);
  const doc = JSON.parse(r.body);
  t.same(doc.failures, { 'registry-b:5000': 'connect ECONNREFUSED' });
  t.equal(doc.services[1].failures, 3);
});

t.test('/_status answers 503 when the health callback itself fails', async (t) => {
  const h = await startHarness({
    stats: {
      health: async () => {
        throw new Error('storage unreachable');
      },
    },
  });
  t.teardown(h.close);
  const r = await get(h.base, '/_status');
  t.equal(r.status, 503);
  t.same(JSON.parse(r.body).failures, { health: 'storage unreachable' });
});
