import t from 'tap';
import { apiHeaders } from '../../../src/gateway/passes/api-headers.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

t.test('every answer after this pass says registry/2.0', async (t) => {
  const out = await runPass(apiHeaders({ hsts: true }), { path: '/v2/' });
  t.equal(out.status, PASSED_ON);
  t.equal(out.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(out.headers['strict-transport-security'], undefined, 'no HSTS over plain http');
});
