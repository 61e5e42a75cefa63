/**
 * One htpasswd file per hash format, made at test time by the real tools (Debian
 * apache2-utils `htpasswd`, `openssl passwd -apr1`), verified by portcullis.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseHtpasswd } from '../../src/auth/htpasswd-parse.js';
import { verifyPassword } from '../../src/auth/password-verify.js';
import { htpasswdTool, withTempDir } from './fixtures/helpers.js';

const FORMATS = [
  { flag: 'B', kind: 'bcrypt', prefix: '$2y$' },
  { flag: 'm', kind: 'apr1', prefix: '$apr1$' },
  { flag: 's', kind: 'sha', prefix: '{SHA}' },
  { flag: 'd', kind: 'crypt', prefix: '' },
  { flag: 'p', kind: 'plain', prefix: '' },
] as const;

for (const f of FORMATS) {
  t.test(`htpasswd -${f.flag} (${f.kind}) verifies the right password and refuses wrong ones`, async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'users');
      htpasswdTool(file, f.flag, 'alice', 's3cret-pw', true);
      const text = await readFile(file, 'utf8');
      t.ok(text.startsWith(`alice:${f.prefix}`), `tool wrote ${f.kind}`);
      const { users, problems } = parseHtpasswd(text, { allowPlain: true });
      t.same(problems, []);
      const entry = users.get('alice')!;
      t.equal(entry.kind, f.kind);
      t.equal(await verifyPassword(entry, 's3cret-pw'), true, 'right password');
      t.equal(await verifyPassword(entry, 'S3cret-pw'), false, 'wrong password');
      t.equal(await verifyPassword(entry, ''), false, 'empty password');
    });
  });
}

t.test('bcrypt $2y$ (htpasswd -B) is read as $2b$: node bcrypt alone would answer false', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'bob', 'pw', true);
    const entry = parseHtpasswd(await readFile(file, 'utf8'), { allowPlain: false }).users.get('bob')!;
    t.match(entry.hash, /^\$2y\$05\$/);
    t.equal(await verifyPassword(entry, 'pw'), true);
    // $2a$ and $2b$ spellings of the same hash verify too.
    t.equal(await verifyPassword({ ...entry, hash: entry.hash.replace('$2y$', '$2a$') }, 'pw'), true);
    t.equal(await verifyPassword({ ...entry, hash: entry.hash.replace('$2y$', '$2b$') }, 'pw'), true);
  });
});

t.test('openssl passwd -apr1 hashes verify', async (t) => {
  const hash = execFileSync('openssl', ['passwd', '-apr1', 'open-sesame']).toString().trim();
  const entry = parseHtpasswd(`carol:${hash}\n`, { allowPlain: false }).users.get('carol')!;
  t.equal(entry.kind, 'apr1');
  t.equal(await verifyPassword(entry, 'open-sesame'), true);
  t.equal(await verifyPassword(entry, 'open-sesamE'), false);
});

t.test('crypt only looks at 8 characters (documented weakness, hence the start-up warning)', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'd', 'dave', '12345678abc', true);
    const entry = parseHtpasswd(await readFile(file, 'utf8'), { allowPlain: false }).users.get('dave')!;
    t.equal(await verifyPassword(entry, '12345678xyz'), true);
  });
});

t.test('plain text is refused unless allowPlain, with the line number', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    htpasswdTool(file, 'p', 'erin', 'plain-password');
    const text = await readFile(file, 'utf8');
    const strict = parseHtpasswd(text, { allowPlain: false });
    t.same([...strict.users.keys()], ['alice']);
    t.equal(strict.problems.length, 1);
    t.equal(strict.problems[0]!.line, 2);
    t.match(strict.problems[0]!.message, /--htpasswd-allow-plain/);
    t.same([...parseHtpasswd(text, { allowPlain: true }).users.keys()], ['alice', 'erin']);
  });
});

t.test('malformed lines are reported by line number, without their content, and skipped', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'pw', true);
    const good = (await readFile(file, 'utf8')).trim();
    const text = [
      '# comment',
      good,
      'no-colon-here',
      ':$apr1$abc$def',
      'frank:',
      'gina:$2y$10$tooshort',
      'hank:$6$rounds=5000$salt$hash',
      'alice:{SHA}6dcfXufJLW3J6S/9rRe4vUlBj5g=',
      '',
      'ivan:{SHA}6dcfXufJLW3J6S/9rRe4vUlBj5g=\r',
    ].join('\n');
    await writeFile(file, text);
    const { users, problems } = parseHtpasswd(text, { allowPlain: false });
    t.same([...users.keys()].sort(), ['alice', 'ivan']);
    t.same(
      problems.map((p) => p.line),
      [3, 4, 5, 6, 7, 8],
    );
    t.match(problems[3]!.message, /malformed bcrypt/);
    t.match(problems[4]!.message, /unsupported hash scheme \$6\$/);
    t.match(problems[5]!.message, /already defined on line 2/);
    t.notOk(
      problems.some((p) => p.message.includes('tooshort') || p.message.includes('6dcf')),
      'no hash material in messages',
    );
    t.equal(users.get('alice')!.kind, 'bcrypt', 'first definition wins, like Apache and nginx');
  });
});
