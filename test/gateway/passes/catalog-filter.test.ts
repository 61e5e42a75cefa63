import t from 'tap';
import { catalogFilter } from '../../../src/gateway/passes/catalog-filter.js';
import { aliceOnly } from './fixtures/auth.js';
import { runPass } from './fixtures/run-pass.js';
import type { Pass } from '../../../src/gateway/passes/pass.js';

t.test("the backend's catalog is cut down to what the user may pull", async (t) => {
  const filter = catalogFilter(
    await aliceOnly(
      t,
      'groups:\n  team: [alice]\nrules:\n  - repository: "team/*"\n    groups: [team]\n    actions: [pull]\n',
    ),
  );
  // The pass runs, then a backend answers the catalog through the same response.
  const withBackend: Pass = async (ctx) => {
    ctx.user = 'alice';
    await filter(ctx);
    const body = JSON.stringify({ repositories: ['secret/db', 'team/app'] });
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    ctx.res.end(body);
    return true;
  };
  const out = await runPass(withBackend, { path: '/v2/_catalog' });
  t.same(JSON.parse(out.body).repositories, ['team/app']);
});
