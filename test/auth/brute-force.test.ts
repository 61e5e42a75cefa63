/** Wrong passwords from one address end in 429 TOOMANYREQUESTS with Retry-After. */
import t from 'tap';
import { BruteForceGuard } from '../../src/auth/brute-force.js';
import { authWithUsers, basic, request } from './fixtures/helpers.js';

const LIMIT = { maxFailures: 3, windowMs: 60_000, blockMs: 300_000 };

t.test(
  'after maxFailures wrong passwords the address gets 429 with Retry-After, even with the right password',
  async (t) => {
    const auth = await authWithUsers(t, { bruteForce: LIMIT });
    for (let i = 0; i < 3; i++) {
      const r = await auth.check(request('GET', '/v2/', basic('alice', `wrong${i}`)));
      t.equal(r.ok ? 200 : r.error.status, 401, `attempt ${i + 1} is a plain 401`);
    }
    const r = await auth.check(request('GET', '/v2/', basic('alice', 'pw')));
    t.equal(r.ok, false);
    if (r.ok) return;
    t.equal(r.reason, 'throttled');
    t.equal(r.error.status, 429);
    t.equal(r.error.code, 'TOOMANYREQUESTS');
    t.equal(r.error.headers['retry-after'], '300');
    t.same(r.error.detail, { retryAfterSeconds: 300 });
    t.match(auth.logs.text(), /blocking this address/);
    t.notMatch(auth.logs.text(), /wrong0|wrong1|wrong2/, 'passwords never logged');
  },
);

t.test('requests without credentials never count, however many', async (t) => {
  const auth = await authWithUsers(t, { bruteForce: LIMIT });
  for (let i = 0; i < 50; i++) {
    await auth.check(request('GET', '/v2/'));
    await auth.check(request('GET', '/v2/', 'Basic Og=='));
  }
  t.same(await auth.check(request('GET', '/v2/', basic('alice', 'pw'))), { ok: true, user: 'alice' });
});

t.test('other addresses are not affected; successes do not reset the counter', async (t) => {
  const auth = await authWithUsers(t, { bruteForce: LIMIT });
  await auth.check(request('GET', '/v2/', basic('alice', 'x'), '10.0.0.1'));
  await auth.check(request('GET', '/v2/', basic('alice', 'x'), '10.0.0.1'));
  t.same(await auth.check(request('GET', '/v2/', basic('alice', 'pw'), '10.0.0.1')), { ok: true, user: 'alice' });
  await auth.check(request('GET', '/v2/', basic('alice', 'x'), '10.0.0.1'));
  const blocked = await auth.check(request('GET', '/v2/', basic('alice', 'pw'), '10.0.0.1'));
  t.equal(blocked.ok ? 200 : blocked.error.status, 429);
  t.same(await auth.check(request('GET', '/v2/', basic('alice', 'pw'), '10.0.0.2')), { ok: true, user: 'alice' });
});

t.test('failures older than the window are forgotten; the block ends after blockMs', (t) => {
  let now = 0;
  const g = new BruteForceGuard(LIMIT, () => now);
  g.recordFailure('ip');
  g.recordFailure('ip');
  now = 61_000;
  t.equal(g.recordFailure('ip'), 0, 'first two fell out of the window');
  g.recordFailure('ip');
  t.equal(g.recordFailure('ip'), 300_000, 'third in window starts the block');
  now += 299_000;
  t.equal(g.blockedFor('ip'), 1000);
  now += 1000;
  t.equal(g.blockedFor('ip'), 0);
  t.end();
});

t.test('the number of tracked addresses is bounded', (t) => {
  const g = new BruteForceGuard(LIMIT, () => 0, 100);
  for (let i = 0; i < 1000; i++) g.recordFailure(`10.0.${i >> 8}.${i & 255}`);
  t.ok(g.tracked <= 100);
  t.end();
});
