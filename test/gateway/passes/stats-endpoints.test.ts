import t from 'tap';
import pino from 'pino';
import { statsEndpoints } from '../../../src/gateway/passes/stats-endpoints.js';
import { createStats } from '../../../src/stats/index.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

const stats = createStats({
  allow: ['127.0.0.0/8'],
  stubStatusPath: '/nginx_status',
  metricsPath: '/metrics',
  dashboardPath: '/-/stats',
  topN: 20,
  version: 'test',
  health: async () => [],
  logger: pino({ level: 'silent' }),
});
t.teardown(() => stats.close());
const pass = statsEndpoints(stats);

t.test('built-in endpoints are answered here and left out of the access log', async (t) => {
  const out = await runPass(pass, { path: '/nginx_status?x=1' });
  t.equal(out.status, 200);
  t.match(out.body, /^Active connections: /);
  t.equal(out.ctx.quiet, true);
});

t.test('registry paths go on', async (t) => {
  const out = await runPass(pass, { path: '/v2/' });
  t.equal(out.status, PASSED_ON);
  t.not(out.ctx.quiet, true);
});
