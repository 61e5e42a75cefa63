import t from 'tap';
import pino from 'pino';
import { userAgentPolicy } from '../../../src/gateway/passes/user-agent.js';
import { createUserAgentPolicy } from '../../../src/policy/user-agent.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

const pass = userAgentPolicy(createUserAgentPolicy({ extra: [], defaultRule: true }), pino({ level: 'silent' }));

t.test('docker 1.5 gets a JSON 404 saying why', async (t) => {
  const out = await runPass(pass, { path: '/v2/', headers: { 'user-agent': 'docker/1.5.0 go/go1.4.1' } });
  t.equal(out.status, 404);
  t.match(JSON.parse(out.body).errors[0], { code: 'NOT_FOUND', message: /upgrade docker/ });
});

t.test('a current docker goes on', async (t) => {
  const out = await runPass(pass, { path: '/v2/', headers: { 'user-agent': 'docker/27.3.1 go/go1.22.7' } });
  t.equal(out.status, PASSED_ON);
});
