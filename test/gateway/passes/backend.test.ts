import t from 'tap';
import type { Backend } from '../../../src/backends/backend.js';
import { toBackend } from '../../../src/gateway/passes/backend.js';
import { runPass } from './fixtures/run-pass.js';

t.test('the backend answers with the route already classified', async (t) => {
  const backend = {
    async handle(ctx) {
      ctx.res.end(`${ctx.route.operation} ${ctx.route.repository}`);
    },
  } as Backend;
  const out = await runPass(toBackend(backend), { path: '/v2/team/app/manifests/v1' });
  t.equal(out.status, 200);
  t.equal(out.body, 'manifest_get team/app');
});
