/** Any Authorization header value (or several) is handled without throwing. */
import t from 'tap';
import fc from 'fast-check';
import { parseAuthorization } from '../../src/auth/authorization-header.js';
import { authWithUsers, request } from './fixtures/helpers.js';

t.test('examples', (t) => {
  t.same(parseAuthorization(undefined), { kind: 'none' });
  t.same(parseAuthorization(''), { kind: 'none' });
  t.same(parseAuthorization('Basic Og=='), { kind: 'none' }, 'empty user and password');
  t.same(parseAuthorization(`basic ${Buffer.from('a:b:c').toString('base64')}`), {
    kind: 'basic',
    user: 'a',
    password: 'b:c',
  });
  t.same(parseAuthorization(`Basic ${Buffer.from(':pw').toString('base64')}`), {
    kind: 'basic',
    user: '',
    password: 'pw',
  });
  t.same(parseAuthorization('Bearer abc.def.ghi'), { kind: 'bearer', token: 'abc.def.ghi' });
  t.same(parseAuthorization('Basic ***'), { kind: 'malformed' });
  t.same(parseAuthorization(['Basic Og==', 'Basic Og==']), { kind: 'malformed' });
  t.end();
});

t.test('property: parseAuthorization never throws', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string({ unit: 'binary' }),
        fc.base64String().map((s) => `Basic ${s}`),
        fc.constant(undefined),
        fc.array(fc.string()),
      ),
      (v) => {
        const r = parseAuthorization(v);
        return ['none', 'basic', 'bearer', 'malformed'].includes(r.kind);
      },
    ),
    { numRuns: 5000 },
  );
  t.end();
});

t.test('property: check() resolves (never rejects) for any header value', async (t) => {
  const auth = await authWithUsers(t, { bruteForce: { maxFailures: 1_000_000, windowMs: 1, blockMs: 1 } });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string(),
        fc.string().map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
        fc.string().map((s) => `Bearer ${s}`),
        fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
      ),
      async (h) => {
        const r = await auth.check(request('GET', '/v2/a/b/manifests/latest', h));
        return r.ok === false && (r.error.status === 401 || r.error.status === 429);
      },
    ),
    { numRuns: 200 },
  );
});
