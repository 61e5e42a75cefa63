import t from 'tap';
import type { SearchIndex } from '../../../src/gateway/search.js';
import { v1Search } from '../../../src/gateway/passes/v1-search.js';
import { ALICE, aliceOnly } from './fixtures/auth.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

/** An index over a fixed list, answering with the names the caller may see. */
const index: SearchIndex = {
  pushed() {},
  ping(_req, res) {
    res.end('{}');
    return true;
  },
  async search(_req, res, visible) {
    res.end(JSON.stringify(visible(['team/app', 'secret/db'])));
  },
};

t.test('without auth, /v1/search lists everything and /v1/_ping answers', async (t) => {
  const pass = v1Search(index);
  t.same(JSON.parse((await runPass(pass, { path: '/v1/search?q=a' })).body), ['team/app', 'secret/db']);
  t.equal((await runPass(pass, { path: '/v1/_ping' })).status, 200);
  t.equal((await runPass(pass, { path: '/v2/' })).status, PASSED_ON);
});

t.test('with auth, searching needs a login and shows only what the user may pull', async (t) => {
  const auth = await aliceOnly(
    t,
    'groups:\n  team: [alice]\nrules:\n  - repository: "team/*"\n    groups: [team]\n    actions: [pull]\n',
  );
  const pass = v1Search(index, auth);
  const anonymous = await runPass(pass, { path: '/v1/search?q=a' });
  t.equal(anonymous.status, 401);
  t.match(anonymous.headers['www-authenticate'], /^Basic /);
  const alice = await runPass(pass, { path: '/v1/search?q=a', headers: { authorization: ALICE } });
  t.same(JSON.parse(alice.body), ['team/app']);
  t.equal(alice.ctx.user, 'alice');
});
