/**
 * The Docker token protocol through a real HTTP server: GET /token with right, wrong and no
 * credentials, the token used on registry requests, expired and tampered tokens refused.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthService } from '../../src/auth/index.js';
import { authWithUsers, basic, request, tempDirSync } from './fixtures/helpers.js';

async function serve(t: { teardown(fn: () => unknown): void }, auth: AuthService): Promise<string> {
  const server: Server = createServer((req, res) => {
    void auth.handleTokenRequest(req, res, { clientIp: '192.0.2.9', publicOrigin: 'https://reg.example:8443' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
}

async function token(
  url: string,
  query: string,
  authorization?: string,
): Promise<{
  status: number; // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several shapes, read field by field
  body: any;
  headers: Headers;
}> {
  const res = await fetch(`${url}?${query}`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const ACCESS = `
groups:
  team-a: [alice]
rules:
  - repository: "team-a/*"
    groups: [team-a]
    actions: [pull, push]
  - repository: "*"
    authenticated: true
    actions: [pull]
`;

async function setup(t: { teardown(fn: () => unknown): void }, over = {}) {
  const auth = await authWithUsers(t, { scheme: 'token', anonymousRead: true, ...over }, [
    ['alice', 'pw'],
    ['bob', 'pw2'],
  ]);
  return { auth, url: await serve(t, auth) };
}

t.test('right credentials: a token granting the intersection of requested scope and policy', async (t) => {
  const dir = tempDirSync(t);
  const accessFile = join(dir, 'access.yaml');
  writeFileSync(accessFile, ACCESS);
  const { auth, url } = await setup(t, { accessFile });
  const r = await token(
    url,
    'service=reg.example:8443&scope=repository:team-a/app:pull,push,delete&scope=repository:other/x:pull,push&account=alice',
    basic('alice', 'pw'),
  );
  t.equal(r.status, 200);
  t.equal(r.headers.get('cache-control'), 'no-store');
  t.type(r.body.token, 'string');
  t.equal(r.body.access_token, r.body.token);
  t.equal(r.body.expires_in, 300);
  t.match(r.body.issued_at, /^\d{4}-\d\d-\d\dT/);
  const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url').toString());
  t.same(claims.access, [
    { type: 'repository', name: 'team-a/app', actions: ['pull', 'push'] },
    { type: 'repository', name: 'other/x', actions: ['pull'] },
  ]);
  t.equal(claims.sub, 'alice');
  const bearer = `Bearer ${r.body.token}`;
  t.same(await auth.check(request('PUT', '/v2/team-a/app/manifests/v1', bearer)), { ok: true, user: 'alice' });
  t.same(await auth.check(request('GET', '/v2/', bearer)), { ok: true, user: 'alice' });
  const del = await auth.check(request('DELETE', '/v2/team-a/app/manifests/v1', bearer));
  t.equal(del.ok ? 200 : del.error.status, 403, 'policy denies delete: 403, no endless token loop');
  const wider = await auth.check(request('GET', '/v2/team-a/other/manifests/v1', bearer));
  t.equal(wider.ok, false, 'repository not in the token');
  if (!wider.ok) {
    t.equal(wider.error.status, 401);
    t.match(
      wider.error.headers['www-authenticate'],
      /scope="repository:team-a\/other:pull",error="insufficient_scope"/,
    );
  }
});

t.test('wrong credentials: 401 from /token (docker login must fail)', async (t) => {
  const { url } = await setup(t);
  const r = await token(url, 'service=reg.example:8443&account=alice', basic('alice', 'bad'));
  t.equal(r.status, 401);
  t.equal(r.body.errors[0].code, 'UNAUTHORIZED');
  t.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
  t.equal(r.headers.get('www-authenticate'), 'Basic realm="portcullis"');
  const unknown = await token(url, 'service=reg.example:8443', basic('mallory', 'bad'));
  t.equal(unknown.status, 401);
});

t.test('no credentials: an anonymous token with pull only (anonymous-read)', async (t) => {
  const { auth, url } = await setup(t);
  const r = await token(url, 'service=reg.example:8443&scope=repository:library/alpine:pull,push');
  t.equal(r.status, 200);
  const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url').toString());
  t.equal(claims.sub, '');
  t.same(claims.access, [{ type: 'repository', name: 'library/alpine', actions: ['pull'] }]);
  const bearer = `Bearer ${r.body.token}`;
  t.same(await auth.check(request('GET', '/v2/library/alpine/manifests/3', bearer)), { ok: true, user: undefined });
  const push = await auth.check(request('PUT', '/v2/library/alpine/manifests/3', bearer));
  t.equal(push.ok ? 200 : push.error.status, 401, 'anonymous push challenged');
});

t.test('no credentials without anonymous-read: an empty token, which opens nothing', async (t) => {
  const { auth, url } = await setup(t, { anonymousRead: false });
  const r = await token(url, 'service=reg.example:8443&scope=repository:library/alpine:pull');
  t.equal(r.status, 200);
  const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url').toString());
  t.same(claims.access, []);
  const pull = await auth.check(request('GET', '/v2/library/alpine/manifests/3', `Bearer ${r.body.token}`));
  t.equal(pull.ok ? 200 : pull.error.status, 401);
});

t.test('tampered tokens are refused', async (t) => {
  const { auth, url } = await setup(t);
  const r = await token(url, 'scope=repository:a/b:pull', basic('bob', 'pw2'));
  const [h, p, s] = r.body.token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.sub = 'alice';
  claims.access[0].actions = ['pull', 'push', 'delete'];
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  const res = await auth.check(request('DELETE', '/v2/a/b/manifests/x', `Bearer ${forged}`));
  t.equal(res.ok, false);
  if (!res.ok) {
    t.equal(res.error.status, 401);
    t.match(res.error.headers['www-authenticate'], /error="invalid_token"/);
  }
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
  t.equal((await auth.check(request('GET', '/v2/a/b/manifests/x', `Bearer ${none}`))).ok, false, 'alg none refused');
});

t.test('expired tokens are refused', async (t) => {
  const { auth, url } = await setup(t, { tokenTtlMs: 1000 });
  const r = await token(url, 'scope=repository:a/b:pull', basic('alice', 'pw'));
  t.equal(r.body.expires_in, 1);
  const bearer = `Bearer ${r.body.token}`;
  t.same(await auth.check(request('GET', '/v2/a/b/manifests/x', bearer)), { ok: true, user: 'alice' });
  await sleep(2100);
  const res = await auth.check(request('GET', '/v2/a/b/manifests/x', bearer));
  t.equal(res.ok ? 200 : res.error.status, 401);
});

t.test('a token stops working when its user is removed from htpasswd', async (t) => {
  const { auth, url } = await setup(t);
  const r = await token(url, 'scope=repository:a/b:pull', basic('bob', 'pw2'));
  writeFileSync(
    auth.file,
    (await import('node:fs'))
      .readFileSync(auth.file, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('bob:'))
      .join('\n'),
  );
  await auth.reload();
  t.equal((await auth.check(request('GET', '/v2/a/b/manifests/x', `Bearer ${r.body.token}`))).ok, false);
});

t.test('OAuth2 password grant (containerd) and other methods', async (t) => {
  const { url } = await setup(t);
  const ok = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=pw&service=reg.example%3A8443&scope=repository%3Aa%2Fb%3Apull&client_id=containerd',
  });
  t.equal(ok.status, 200);
  t.type(((await ok.json()) as { access_token: string }).access_token, 'string');
  const bad = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=x',
  });
  t.equal(bad.status, 401);
  const refresh = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=refresh_token&refresh_token=x',
  });
  t.equal(refresh.status, 400);
  t.equal(((await refresh.json()) as { error: string }).error, 'unsupported_grant_type');
  const put = await fetch(url, { method: 'PUT' });
  t.equal(put.status, 405);
});

t.test('wrong passwords at /token count towards the brute-force block', async (t) => {
  const { url } = await setup(t, { bruteForce: { maxFailures: 2, windowMs: 60_000, blockMs: 60_000 } });
  await token(url, '', basic('alice', 'x'));
  await token(url, '', basic('alice', 'y'));
  const r = await token(url, '', basic('alice', 'pw'));
  t.equal(r.status, 429);
  t.equal(r.headers.get('retry-after'), '60');
});
