/**
 * Authentication through the running gateway in front of registry:2, as clients see it:
 * every 401/403/429 shape with curl-like requests, skopeo with right and wrong credentials,
 * access rules, the token flow for anonymous reads, and no password in any log line.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { makeOciImage } from '../helpers/oci-image.js';
import {
  startRegistry2,
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
  execFileP,
  type Running,
} from '../helpers/processes.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const PASSWORDS = { alice: 'alice-Secret-1', bob: 'bob-Secret-2' };

async function setup(t: { teardown: (fn: () => unknown) => void }, extra: string[]) {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', PASSWORDS.alice]);
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, 'bob', PASSWORDS.bob]);
  const access = join(work, 'access.yaml');
  await writeFile(
    access,
    [
      'groups:',
      '  team-a: [alice]',
      'rules:',
      '  - repository: "team-a/*"',
      '    groups: [team-a]',
      '    actions: [pull, push, delete]',
      '  - repository: "*"',
      '    authenticated: true',
      '    actions: [pull]',
      '  - repository: "public/*"',
      '    anonymous: true',
      '    actions: [pull]',
      '  - repository: "public/*"',
      '    users: [alice]',
      '    actions: [pull, push]',
    ].join('\n'),
  );
  const registry = await startRegistry2();
  t.teardown(() => registry.stop());
  const port = await freePort();
  const gw: Running = await startPortcullis(
    [
      '--upstream',
      registry.url,
      '--listen',
      `127.0.0.1:${port}`,
      '--htpasswd',
      htpasswd,
      '--access',
      access,
      '--realm',
      'e2e realm',
      '--brute-force-max',
      '3',
      '--log-level',
      'debug',
      ...extra,
    ],
    { probe: `http://127.0.0.1:${port}/_ping`, env: { PORTCULLIS_LOG_LEVEL: 'debug' } },
  );
  t.teardown(() => gw.stop());
  return { work, port, gw, base: `http://127.0.0.1:${port}`, registry };
}

t.test('basic scheme: challenge, wrong password, brute force, access rules, skopeo', async (t) => {
  const { work, port, gw, base } = await setup(t, []);

  const anon = await fetchInsecure(`${base}/v2/`);
  t.equal(anon.status, 401, 'GET /v2/ is always challenged, so docker login cannot pass with any password');
  t.equal(anon.headers['www-authenticate'], 'Basic realm="e2e realm"');
  t.equal(anon.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(JSON.parse(anon.body).errors[0].code, 'UNAUTHORIZED');

  const empty = await fetchInsecure(`${base}/v2/`, { headers: { authorization: 'Basic Og==' } });
  t.equal(empty.status, 401, 'empty credentials (skopeo after a challenge) are no credentials');

  const ok = await fetchInsecure(`${base}/v2/`, { headers: { authorization: basic('alice', PASSWORDS.alice) } });
  t.equal(ok.status, 200);

  // Push with skopeo as alice into her team's repository; bob may pull it but not push.
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [2 << 20, 1024] });
  await skopeo([
    'copy',
    '--dest-tls-verify=false',
    '--dest-creds',
    `alice:${PASSWORDS.alice}`,
    `oci:${image.dir}:latest`,
    `docker://127.0.0.1:${port}/team-a/app:v1`,
  ]);
  await skopeo([
    'inspect',
    '--tls-verify=false',
    '--creds',
    `bob:${PASSWORDS.bob}`,
    `docker://127.0.0.1:${port}/team-a/app:v1`,
  ]);
  await t.rejects(
    skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      `bob:${PASSWORDS.bob}`,
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${port}/team-a/app:v2`,
    ]),
    /denied|forbidden|403/i,
  );
  await t.rejects(
    skopeo(['inspect', '--tls-verify=false', '--creds', 'alice:wrong', `docker://127.0.0.1:${port}/team-a/app:v1`]),
    /unauthorized|401/i,
  );

  const denied = await fetchInsecure(`${base}/v2/team-a/app/blobs/uploads/`, {
    method: 'POST',
    headers: { authorization: basic('bob', PASSWORDS.bob), 'content-length': '0' },
  });
  t.equal(denied.status, 403);
  const err = JSON.parse(denied.body).errors[0];
  t.equal(err.code, 'DENIED');
  t.match(err.message, /team-a\/app/);
  t.match(err.message, /push/);

  const catalog = await fetchInsecure(`${base}/v2/_catalog`, {
    headers: { authorization: basic('bob', PASSWORDS.bob) },
  });
  t.same(JSON.parse(catalog.body).repositories, ['team-a/app'], 'bob sees what he may pull');

  // Brute force: only wrong passwords count; then 429 with Retry-After even for the right one.
  for (let i = 0; i < 10; i++) await fetchInsecure(`${base}/v2/`);
  t.equal(
    (await fetchInsecure(`${base}/v2/`, { headers: { authorization: basic('alice', PASSWORDS.alice) } })).status,
    200,
    'missing credentials never count',
  );
  for (let i = 0; i < 3; i++)
    await fetchInsecure(`${base}/v2/`, { headers: { authorization: basic('alice', `guess${i}`) } });
  const limited = await fetchInsecure(`${base}/v2/`, { headers: { authorization: basic('alice', 'guess-again') } });
  t.equal(limited.status, 429);
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After');
  t.equal(JSON.parse(limited.body).errors[0].code, 'TOOMANYREQUESTS');
  t.equal(limited.headers['docker-distribution-api-version'], 'registry/2.0');

  await gw.stop();
  for (const pw of Object.values(PASSWORDS)) t.notOk(gw.output().includes(pw), 'no password in any log line');
  t.notOk(/Basic [A-Za-z0-9+/=]{8,}/.test(gw.output()), 'no Authorization header in any log line');
});

t.test('--anonymous-read: token flow for anonymous pulls, pushes need credentials', async (t) => {
  const { work, port, base } = await setup(t, ['--anonymous-read']);
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [1 << 20] });
  await skopeo([
    'copy',
    '--dest-tls-verify=false',
    '--dest-creds',
    `alice:${PASSWORDS.alice}`,
    `oci:${image.dir}:latest`,
    `docker://127.0.0.1:${port}/public/tool:v1`,
  ]);

  const challenge = await fetchInsecure(`${base}/v2/`);
  t.equal(challenge.status, 401, '/v2/ is still challenged, so docker login checks the password');
  t.match(
    challenge.headers['www-authenticate'],
    new RegExp(`^Bearer realm="http://127\\.0\\.0\\.1:${port}/token",service="[^"]+"`),
  );
  const direct = await fetchInsecure(`${base}/v2/public/tool/manifests/v1`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  t.equal(direct.status, 200, 'an anonymous pull of a public repository needs no credentials');
  const pushChallenge = await fetchInsecure(`${base}/v2/public/tool/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  t.equal(pushChallenge.status, 401);
  t.match(pushChallenge.headers['www-authenticate'], /scope="repository:public\/tool:(pull,)?push"/);
  const service = /service="([^"]+)"/.exec(challenge.headers['www-authenticate'] as string)![1]!;
  const anonToken = await fetchInsecure(
    `${base}/token?service=${encodeURIComponent(service)}&scope=repository:public/tool:pull,push`,
  );
  t.equal(anonToken.status, 200);
  const { token } = JSON.parse(anonToken.body);
  const pulled = await fetchInsecure(`${base}/v2/public/tool/manifests/v1`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  t.equal(pulled.status, 200, 'anonymous token pulls');
  const push = await fetchInsecure(`${base}/v2/public/tool/blobs/uploads/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-length': '0' },
  });
  t.not(push.status, 202, 'an anonymous token cannot push');

  const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  t.equal(
    (await fetchInsecure(`${base}/v2/public/tool/manifests/v1`, { headers: { authorization: `Bearer ${tampered}` } }))
      .status,
    401,
    'tampered token refused',
  );
  t.equal(
    (
      await fetchInsecure(`${base}/token?service=${service}&scope=repository:public/tool:pull`, {
        headers: { authorization: basic('alice', 'wrong') },
      })
    ).status,
    401,
    'docker login with a wrong password fails at /token',
  );

  // skopeo anonymously pulls; pushes without credentials fail.
  const out = join(work, 'out');
  await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${port}/public/tool:v1`, `oci:${out}:v1`]);
  await t.rejects(
    skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:latest`, `docker://127.0.0.1:${port}/public/tool:v2`]),
    /unauthorized|denied|401|403/i,
  );
  // Basic credentials sent directly (curl -u) keep working in the token scheme.
  t.equal(
    (
      await fetchInsecure(`${base}/v2/team-a/x/tags/list`, {
        headers: { authorization: basic('alice', PASSWORDS.alice) },
      })
    ).status,
    404,
    'basic reaches the registry (unknown repo → 404)',
  );
});
