import t from 'tap';
import { tokenService } from '../../../src/gateway/passes/token-service.js';
import { ALICE, aliceOnly } from './fixtures/auth.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

t.test('the token path is answered by the token service, with a token for a good password', async (t) => {
  const pass = tokenService(await aliceOnly(t));
  const out = await runPass(pass, {
    path: '/token?service=x&scope=repository:app:pull',
    headers: { authorization: ALICE },
  });
  t.equal(out.status, 200);
  t.type(JSON.parse(out.body).token, 'string');
  t.equal((await runPass(pass, { path: '/v2/' })).status, PASSED_ON, 'other paths go on');
});
