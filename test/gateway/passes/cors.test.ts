import t from 'tap';
import { createCorsPolicy } from '../../../src/gateway/cors.js';
import { cors } from '../../../src/gateway/passes/cors.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

const policy = createCorsPolicy(['https://ui.example'], false, 600_000);
if (!policy) throw new Error('a policy with one origin');
const pass = cors(policy);

t.test('a preflight from an allowed origin is answered here, before authentication', async (t) => {
  const out = await runPass(pass, {
    method: 'OPTIONS',
    path: '/v2/app/tags/list',
    headers: { origin: 'https://ui.example', 'access-control-request-method': 'GET' },
  });
  t.not(out.status, PASSED_ON);
  t.equal(out.headers['access-control-allow-origin'], 'https://ui.example');
});

t.test('other requests go on with the allow headers', async (t) => {
  const out = await runPass(pass, { path: '/v2/app/tags/list', headers: { origin: 'https://ui.example' } });
  t.equal(out.status, PASSED_ON);
  t.equal(out.headers['access-control-allow-origin'], 'https://ui.example');
});
