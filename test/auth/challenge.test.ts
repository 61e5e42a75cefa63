/** The 401 shapes docker login needs (docs/pitfalls.md: "The API version header on every answer"; "The challenge on /v2/"), for both schemes. */
import t from 'tap';
import { authWithUsers, basic, request } from './fixtures/helpers.js';

const setup = (t: { teardown(fn: () => unknown): void }, over: Record<string, unknown> = {}) => authWithUsers(t, over);

t.test('GET /v2/ without credentials: 401 with Basic realm, UNAUTHORIZED', async (t) => {
  const auth = await setup(t);
  const r = await auth.check(request('GET', '/v2/'));
  t.equal(r.ok, false);
  if (r.ok) return;
  t.equal(r.reason, 'missing');
  t.equal(r.error.status, 401);
  t.equal(r.error.code, 'UNAUTHORIZED');
  t.same(r.error.headers, { 'www-authenticate': 'Basic realm="portcullis"' });
});

t.test('GET /v2/ is challenged even under --anonymous-read, so docker login cannot succeed anonymously', async (t) => {
  const auth = await setup(t, { anonymousRead: true });
  const r = await auth.check(request('GET', '/v2/'));
  t.equal(r.ok, false);
  const pull = await auth.check(request('GET', '/v2/library/alpine/manifests/latest'));
  t.same(pull, { ok: true, user: undefined }, 'anonymous pull allowed');
  const push = await auth.check(request('PUT', '/v2/library/alpine/manifests/latest'));
  t.equal(push.ok, false);
  if (!push.ok) t.equal(push.error.status, 401, 'anonymous push is challenged, not denied');
});

t.test('GET /v2/ with right and wrong passwords', async (t) => {
  const auth = await setup(t);
  t.same(await auth.check(request('GET', '/v2/', basic('alice', 'pw'))), { ok: true, user: 'alice' });
  const bad = await auth.check(request('GET', '/v2/', basic('alice', 'nope')));
  t.equal(bad.ok, false);
  if (!bad.ok) {
    t.equal(bad.reason, 'invalid');
    t.equal(bad.error.status, 401);
    t.equal(bad.error.headers['www-authenticate'], 'Basic realm="portcullis"');
  }
});

t.test('Authorization: Basic Og== (empty, what skopeo sends) counts as no credentials', async (t) => {
  const auth = await setup(t);
  const r = await auth.check(request('GET', '/v2/', 'Basic Og=='));
  t.equal(r.ok, false);
  if (!r.ok) t.equal(r.reason, 'missing');
});

t.test('the realm is quoted safely', async (t) => {
  const auth = await setup(t, { realm: 'My "Registry"' });
  const r = await auth.check(request('GET', '/v2/'));
  if (!r.ok) t.equal(r.error.headers['www-authenticate'], 'Basic realm="My \\"Registry\\""');
});

t.test('token scheme: 401 carries the Bearer challenge with realm, service and scope', async (t) => {
  const auth = await setup(t, { scheme: 'token', anonymousRead: true });
  const ping = await auth.check(request('GET', '/v2/'));
  if (!ping.ok)
    t.equal(
      ping.error.headers['www-authenticate'],
      'Bearer realm="https://reg.example:8443/token",service="reg.example:8443"',
    );
  const push = await auth.check(request('POST', '/v2/team/app/blobs/uploads/'));
  t.equal(push.ok, false);
  if (!push.ok) {
    t.equal(
      push.error.headers['www-authenticate'],
      'Bearer realm="https://reg.example:8443/token",service="reg.example:8443",scope="repository:team/app:pull,push"',
    );
  }
  t.same(
    await auth.check(request('GET', '/v2/', basic('alice', 'pw'))),
    { ok: true, user: 'alice' },
    'curl -u keeps working in token scheme',
  );
});

t.test('health endpoints never need credentials; unknown non-API paths do', async (t) => {
  const auth = await setup(t);
  t.same(await auth.check(request('GET', '/_ping')), { ok: true });
  t.same(await auth.check(request('GET', '/v1/_ping')), { ok: true });
  t.equal((await auth.check(request('GET', '/v1/search'))).ok, false);
});

t.test('garbage Authorization headers get 401 invalid, never a throw', async (t) => {
  const auth = await setup(t);
  for (const h of [
    'Basic',
    'Basic !!!',
    'Digest x',
    'Bearer',
    'Bearer not.a.jwt',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
  ]) {
    const r = await auth.check(request('GET', '/v2/', h));
    t.equal(r.ok, false, h);
    if (!r.ok) t.equal(r.error.status, 401, h);
  }
});

t.test('auth disabled: everything allowed', async (t) => {
  const { createAuth } = await import('../../src/auth/index.js');
  const { captureLogger } = await import('./fixtures/helpers.js');
  const auth = await createAuth({
    allowPlain: false,
    realm: 'r',
    anonymousRead: false,
    scheme: 'basic',
    tokenTtlMs: 1,
    service: 's',
    bruteForce: { maxFailures: 1, windowMs: 1, blockMs: 1 },
    logger: captureLogger().logger,
  });
  t.equal(auth.enabled, false);
  t.same(await auth.check(request('DELETE', '/v2/x/manifests/latest')), { ok: true });
  t.same(auth.filterCatalog(undefined, ['a', 'b']), ['a', 'b']);
});
