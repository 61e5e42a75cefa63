/** The access file: every (user, repository, action) of the example from docs/auth.md. */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAccessFile } from '../../src/auth/access-file.js';
import { createAccessPolicy } from '../../src/auth/access-policy.js';
import { authWithUsers, basic, request, tempDirSync } from './fixtures/helpers.js';

const EXAMPLE = `
groups:
  team-a: [alice]
  admin: [root]
rules:
  - repository: "team-a/*"
    groups: [team-a]
    actions: [pull, push]
  - repository: "*"
    authenticated: true
    actions: [pull]
  - repository: "*"
    groups: [admin]
    actions: ["*"]
  - repository: [public/*, tools/lint]
    anonymous: true
    actions: [pull]
  - repository: ci-cache
    users: [ci]
    actions: [pull, push, delete]
`;

// user (- = anonymous) × repository → allowed actions (p=pull, P=push, d=delete)
const MATRIX: Array<[string, string, string]> = [
  ['alice', 'team-a/app', 'pP'],
  ['alice', 'team-a/deep/nested', 'pP'],
  ['alice', 'team-ab/app', 'p'],
  ['alice', 'team-b/app', 'p'],
  ['alice', 'ci-cache', 'p'],
  ['bob', 'team-a/app', 'p'],
  ['bob', 'team-b/app', 'p'],
  ['root', 'team-a/app', 'pPd'],
  ['root', 'anything/at/all', 'pPd'],
  ['ci', 'ci-cache', 'pPd'],
  ['ci', 'ci-cache2', 'p'],
  ['-', 'public/base', 'p'],
  ['-', 'tools/lint', 'p'],
  ['-', 'tools/lint2', ''],
  ['-', 'team-a/app', ''],
];

t.test('ACL matrix', (t) => {
  const policy = createAccessPolicy(parseAccessFile(EXAMPLE, 'access.yaml'), false);
  for (const [user, repo, want] of MATRIX) {
    const u = user === '-' ? undefined : user;
    const got =
      (policy.allows(u, repo, 'pull') ? 'p' : '') +
      (policy.allows(u, repo, 'push') ? 'P' : '') +
      (policy.allows(u, repo, 'delete') ? 'd' : '');
    t.equal(got, want, `${user} on ${repo}`);
  }
  t.end();
});

t.test('--anonymous-read adds anonymous pull everywhere, never push', (t) => {
  const policy = createAccessPolicy(parseAccessFile(EXAMPLE, 'access.yaml'), true);
  t.equal(policy.allows(undefined, 'team-a/app', 'pull'), true);
  t.equal(policy.allows(undefined, 'team-a/app', 'push'), false);
  t.end();
});

t.test('without an access file any authenticated user may do everything', (t) => {
  const policy = createAccessPolicy(undefined, false);
  t.equal(policy.allows('anyone', 'x/y', 'delete'), true);
  t.equal(policy.allows(undefined, 'x/y', 'pull'), false);
  t.equal(createAccessPolicy(undefined, true).allows(undefined, 'x/y', 'pull'), true);
  t.end();
});

t.test('validation errors name the file and the path inside it', (t) => {
  const cases: Array<[string, RegExp]> = [
    [
      'rules:\n  - repository: "a/*"\n    users: [x]\n    actions: [pull, pish]\n',
      /^f\.yaml: rules\[0\]\.actions\[1\]: /,
    ],
    [
      'rules:\n  - repository: "a/*"\n    actions: [pull]\n',
      /^f\.yaml: rules\[0\]: a rule needs at least one of users, groups/,
    ],
    [
      'rules:\n  - repository: "a/*"\n    groups: [nobody]\n    actions: [pull]\n',
      /^f\.yaml: rules\[0\]\.groups\[0\]: unknown group "nobody"/,
    ],
    ['rules:\n  - repository: "A/B"\n    users: [x]\n    actions: [pull]\n', /^f\.yaml: rules\[0\]\.repository: /],
    [
      'rules:\n  - repository: "*"\n    anonymous: true\n    actions: [push]\n',
      /^f\.yaml: rules\[0\]\.actions: anonymous rules may only grant pull/,
    ],
    ['rules: []\nextra: 1\n', /^f\.yaml: \(top level\): /],
    ['rules: [\n', /^f\.yaml: invalid YAML: /],
    ['groups: {a: [x]}\n', /^f\.yaml: rules: /],
  ];
  for (const [text, re] of cases) {
    t.throws(() => parseAccessFile(text, 'f.yaml'), { message: re }, text);
    try {
      parseAccessFile(text, 'f.yaml');
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, 'one line');
    }
  }
  t.end();
});

t.test('through check(): 403 DENIED names repository and action; catalog is filtered', async (t) => {
  const dir = tempDirSync(t);
  const accessFile = join(dir, 'access.yaml');
  writeFileSync(accessFile, EXAMPLE);
  const auth = await authWithUsers(t, { accessFile }, [
    ['alice', 'pw'],
    ['bob', 'pw'],
  ]);
  const r = await auth.check(request('PUT', '/v2/team-b/app/manifests/v1', basic('alice', 'pw')));
  t.equal(r.ok, false);
  if (!r.ok) {
    t.equal(r.reason, 'denied');
    t.equal(r.error.status, 403);
    t.equal(r.error.code, 'DENIED');
    t.match(r.error.message, /"team-b\/app"/);
    t.match(r.error.message, /push/);
    t.same(r.error.detail, { repository: 'team-b/app', action: 'push' });
  }
  t.same(await auth.check(request('PUT', '/v2/team-a/app/manifests/v1', basic('alice', 'pw'))), {
    ok: true,
    user: 'alice',
  });
  t.same(auth.filterCatalog('bob', ['team-a/app', 'public/x']), ['team-a/app', 'public/x']);
  t.same(auth.filterCatalog(undefined, ['team-a/app', 'public/x', 'tools/lint']), ['public/x', 'tools/lint']);
  // A cross-repository mount reads the source: it needs pull there.
  const mount = await auth.check(
    request('POST', '/v2/team-a/app/blobs/uploads/?mount=sha256:00&from=secret/repo', basic('alice', 'pw')),
  );
  t.equal(mount.ok, true, 'authenticated users may pull everything in this file');
  t.match(auth.logs.text(), /missing from the htpasswd file: root, ci/);
});

t.test('mount from a repository the user may not pull is denied', async (t) => {
  const dir = tempDirSync(t);
  const accessFile = join(dir, 'access.yaml');
  writeFileSync(accessFile, 'rules:\n  - repository: "mine/*"\n    users: [alice]\n    actions: [pull, push]\n');
  const auth = await authWithUsers(t, { accessFile });
  const r = await auth.check(
    request('POST', '/v2/mine/app/blobs/uploads/?mount=sha256:00&from=theirs/app', basic('alice', 'pw')),
  );
  t.equal(r.ok ? 200 : r.error.status, 403);
  if (!r.ok) t.same(r.error.detail, { repository: 'theirs/app', action: 'pull' });
});

t.test('the access file is reloaded on change; a broken edit keeps the old rules', async (t) => {
  const dir = tempDirSync(t);
  const accessFile = join(dir, 'access.yaml');
  writeFileSync(accessFile, 'rules:\n  - repository: "a/*"\n    users: [alice]\n    actions: [pull]\n');
  const auth = await authWithUsers(t, { accessFile, watch: { pollMs: 50, debounceMs: 10 } });
  const push = () => auth.check(request('PUT', '/v2/a/x/manifests/1', basic('alice', 'pw')));
  t.equal((await push()).ok, false);
  writeFileSync(accessFile, 'rules:\n  - repository: "a/*"\n    users: [alice]\n    actions: [pull, push]\n');
  for (let i = 0; i < 100 && !(await push()).ok; i++) await sleep(25);
  t.equal((await push()).ok, true, 'new rule applied');
  writeFileSync(accessFile, 'rules:\n  - repository: "a/*"\n    actions: [pull, push]\n');
  await sleep(300);
  t.equal((await push()).ok, true, 'broken file: old rules kept');
  t.match(auth.logs.text(), /access file reload failed, keeping the previous rules: .*rules\[0\]/);
});
