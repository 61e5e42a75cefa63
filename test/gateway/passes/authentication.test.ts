import t from 'tap';
import { authentication } from '../../../src/gateway/passes/authentication.js';
import { ALICE, aliceOnly } from './fixtures/auth.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

t.test('a known user goes on, named in the context', async (t) => {
  const out = await runPass(authentication(await aliceOnly(t)), {
    path: '/v2/app/manifests/v1',
    headers: { authorization: ALICE },
  });
  t.equal(out.status, PASSED_ON);
  t.equal(out.ctx.user, 'alice');
});

t.test('a refused upload gets the 401 (its body read and dropped), not a reset', async (t) => {
  const out = await runPass(authentication(await aliceOnly(t)), {
    method: 'PATCH',
    path: '/v2/app/blobs/uploads/0b5c0c8e-3e43-4f4b-9a59-0c2a7b6f7d11',
    body: 'x'.repeat(1 << 20),
  });
  t.equal(out.status, 401);
  t.equal(JSON.parse(out.body).errors[0].code, 'UNAUTHORIZED');
});
