import t from 'tap';
import { draining } from '../../../src/gateway/passes/draining.js';
import { PASSED_ON, runPass } from './fixtures/run-pass.js';

t.test('while draining, new requests get 503 with Connection: close and Retry-After', async (t) => {
  const out = await runPass(
    draining(() => true),
    { path: '/v2/' },
  );
  t.equal(out.status, 503);
  t.equal(out.headers.connection, 'close');
  t.equal(out.headers['retry-after'], '5');
  t.equal(JSON.parse(out.body).errors[0].code, 'UNAVAILABLE');
});

t.test('otherwise requests go on', async (t) => {
  const out = await runPass(
    draining(() => false),
    { path: '/v2/' },
  );
  t.equal(out.status, PASSED_ON);
});
