/** The htpasswd file is re-read when it changes and on SIGHUP; a bad reload keeps the old users. */
import t from 'tap';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HtpasswdStore } from '../../src/auth/htpasswd-store.js';
import { createAuth } from '../../src/auth/index.js';
import { captureLogger, htpasswdTool, withTempDir } from './fixtures/helpers.js';

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(25);
  }
  return false;
}

t.test('a user added with htpasswd is accepted without restart (file watch)', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    const s = await HtpasswdStore.open({
      file,
      allowPlain: false,
      logger: captureLogger().logger,
      watch: { pollMs: 100, debounceMs: 20 },
    });
    t.equal(await s.verify('bob', 'b'), false);
    await sleep(20);
    htpasswdTool(file, 'B', 'bob', 'b');
    t.ok(await until(async () => s.has('bob')), 'bob appears');
    t.equal(await s.verify('bob', 'b'), true);
    t.equal(await s.verify('alice', 'a'), true, 'alice still there');
    s.close();
  });
});

t.test('mtime polling alone notices a change (fs.watch silent, as on NFS)', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'm', 'alice', 'a', true);
    const s = await HtpasswdStore.open({
      file,
      allowPlain: false,
      logger: captureLogger().logger,
      watch: { pollMs: 50, debounceMs: 10, fsWatch: false },
    });
    // Same size, new content and mtime: only a version check (mtime/size/inode) sees this.
    await sleep(30);
    htpasswdTool(file, 'm', 'alice', 'b');
    t.ok(await until(async () => s.verify('alice', 'b')), 'new password accepted');
    s.close();
  });
});

t.test('a reload that cannot parse keeps the previous users and logs why', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    const logs = captureLogger();
    const s = await HtpasswdStore.open({ file, allowPlain: false, logger: logs.logger, watch: false });
    await writeFile(file, 'this is not an htpasswd file\n');
    t.equal(await s.reload(), false);
    t.equal(await s.verify('alice', 'a'), true);
    t.match(logs.text(), /line 1 skipped/);
    t.match(logs.text(), /keeping the previous users/);
    await writeFile(file, '');
    t.equal(await s.reload(), true, 'an intentionally emptied file does apply');
    t.equal(await s.verify('alice', 'a'), false);
    s.close();
  });
});

t.test('a deleted file keeps the previous users', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    const logs = captureLogger();
    const s = await HtpasswdStore.open({ file, allowPlain: false, logger: logs.logger, watch: false });
    await import('node:fs/promises').then((fs) => fs.rm(file));
    t.equal(await s.reload(), false);
    t.match(logs.text(), /ENOENT/);
    t.equal(await s.verify('alice', 'a'), true);
    s.close();
  });
});

t.test('start-up errors are one line naming the flag', async (t) => {
  const logger = captureLogger().logger;
  const base = {
    allowPlain: false,
    realm: 'r',
    anonymousRead: false,
    scheme: 'basic' as const,
    tokenTtlMs: 1000,
    service: 's',
    bruteForce: { maxFailures: 10, windowMs: 1000, blockMs: 1000 },
    logger,
    watch: false as const,
  };
  await t.rejects(createAuth({ ...base, htpasswdFile: '/nonexistent/users' }), {
    message: '--htpasswd: cannot read /nonexistent/users: ENOENT',
  });
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    await t.rejects(createAuth({ ...base, htpasswdFile: file, accessFile: join(dir, 'nope.yaml') }), {
      message: `--access: cannot read ${join(dir, 'nope.yaml')}: ENOENT`,
    });
  });
});

t.test('crypt, {SHA} and plain users are named in start-up warnings; hashes are not logged', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'd', 'olduser', 'pw', true);
    htpasswdTool(file, 's', 'shauser', 'pw');
    htpasswdTool(file, 'p', 'plainuser', 'plain-secret');
    htpasswdTool(file, 'B', 'gooduser', 'pw');
    const logs = captureLogger();
    const s = await HtpasswdStore.open({ file, allowPlain: true, logger: logs.logger, watch: false });
    const warnings = logs
      .lines()
      .filter((l) => l.level === 40)
      .map((l) => String(l.msg));
    t.ok(warnings.some((w) => /traditional crypt.*olduser/.test(w)));
    t.ok(warnings.some((w) => /\{SHA\}.*shauser/.test(w)));
    t.ok(warnings.some((w) => /plain-text.*plainuser/.test(w)));
    t.notOk(warnings.some((w) => w.includes('gooduser')));
    t.notMatch(logs.text(), /plain-secret/);
    s.close();
  });
});

t.test('a reload that lands while a tool rewrites the file in place waits for it to settle', async (t) => {
  // Apache's htpasswd rewrites the file in place (truncate, then copy): a SIGHUP in between
  // would read an empty file and, taking it for an emptied one, lock every user out.
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    const full = await readFile(file, 'utf8');
    const s = await HtpasswdStore.open({ file, allowPlain: false, logger: captureLogger().logger, watch: false });
    await writeFile(file, '');
    const reload = s.reload();
    await sleep(15);
    await writeFile(file, full);
    await reload;
    t.ok(s.has('alice'), 'alice survives a reload during the rewrite');
    t.equal(await s.verify('alice', 'a'), true);
    s.close();
  });
});

t.test('an emptied file that stays empty still revokes everyone', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'users');
    htpasswdTool(file, 'B', 'alice', 'a', true);
    const s = await HtpasswdStore.open({ file, allowPlain: false, logger: captureLogger().logger, watch: false });
    await writeFile(file, '');
    await s.reload();
    t.notOk(s.has('alice'));
    s.close();
  });
});
