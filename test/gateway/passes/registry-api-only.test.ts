import t from 'tap';
import { registryApiOnly } from '../../../src/gateway/passes/registry-api-only.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

t.test('paths outside /v2 get a JSON 404 naming the path', async (t) => {
  const out = await runPass(registryApiOnly, { path: '/wp-admin?x=1' });
  t.equal(out.status, 404);
  t.same(JSON.parse(out.body).errors[0].detail, { path: '/wp-admin' });
  t.equal((await runPass(registryApiOnly, { path: '/v2/app/tags/list' })).status, PASSED_ON);
});
