/** `portcullis htpasswd add|delete|verify`, checked against Debian's `htpasswd -v`. */
import t from 'tap';
import { Readable, Writable } from 'node:stream';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runHtpasswd, type HtpasswdIo } from '../../src/cli/htpasswd-command.js';
import { tempDirSync } from './fixtures/helpers.js';

function io(input: string): HtpasswdIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdin: Readable.from([Buffer.from(input)]),
    stdout: new Writable({
      write: (c, _e, cb) => {
        out += c;
        cb();
      },
    }),
    stderr: new Writable({
      write: (c, _e, cb) => {
        err += c;
        cb();
      },
    }),
    out: () => out,
    err: () => err,
  };
}

const apacheVerifies = (file: string, user: string, pw: string) =>
  spawnSync('htpasswd', ['-vb', file, user, pw]).status === 0;

t.test('add writes a bcrypt cost-10 line that Apache htpasswd verifies', async (t) => {
  const dir = tempDirSync(t);
  const file = join(dir, 'users');
  const s = io('hunter2 hunter2\nignored second line\n');
  t.equal(await runHtpasswd({ action: 'add', file, user: 'alice', cost: 10 }, s), 0, s.err());
  t.match(readFileSync(file, 'utf8'), /^alice:\$2y\$10\$.{53}\n$/);
  t.ok(apacheVerifies(file, 'alice', 'hunter2 hunter2'));
  t.match(s.out(), /Added user alice/);
  t.notMatch(s.out() + s.err(), /hunter2/);
  t.equal(statSync(file).mode & 0o777, 0o640);
});

t.test('add replaces an existing user in place and keeps other lines; --cost applies', async (t) => {
  const dir = tempDirSync(t);
  const file = join(dir, 'users');
  execFileSync('htpasswd', ['-bcm', file, 'bob', 'b']);
  execFileSync('htpasswd', ['-bm', file, 'alice', 'old']);
  writeFileSync(file, `# team\n${readFileSync(file, 'utf8')}`);
  execFileSync('chmod', ['600', file]);
  t.equal(await runHtpasswd({ action: 'add', file, user: 'alice', cost: 5 }, io('new\n')), 0);
  const lines = readFileSync(file, 'utf8').split('\n');
  t.equal(lines[0], '# team');
  t.match(lines[1], /^bob:\$apr1\$/);
  t.match(lines[2], /^alice:\$2y\$05\$/);
  t.ok(apacheVerifies(file, 'alice', 'new'));
  t.equal(statSync(file).mode & 0o777, 0o600, 'mode kept');
  t.same(readdirSync(dir), ['users'], 'no temp files left behind');
});

t.test('verify accepts the right password (any format) and exits 1 on a wrong one', async (t) => {
  const dir = tempDirSync(t);
  const file = join(dir, 'users');
  execFileSync('htpasswd', ['-bcs', file, 'carol', 'c']);
  t.equal(await runHtpasswd({ action: 'verify', file, user: 'carol', cost: 10 }, io('c\n')), 0);
  const bad = io('x\n');
  t.equal(await runHtpasswd({ action: 'verify', file, user: 'carol', cost: 10 }, bad), 1);
  t.match(bad.err(), /password for user carol is not correct/);
});

t.test('delete removes the user; deleting an unknown user fails', async (t) => {
  const dir = tempDirSync(t);
  const file = join(dir, 'users');
  execFileSync('htpasswd', ['-bcB', '-C', '4', file, 'a', 'a']);
  execFileSync('htpasswd', ['-bB', '-C', '4', file, 'b', 'b']);
  t.equal(await runHtpasswd({ action: 'delete', file, user: 'a', cost: 10 }, io('')), 0);
  t.match(readFileSync(file, 'utf8'), /^b:/);
  const e = io('');
  t.equal(await runHtpasswd({ action: 'delete', file, user: 'zed', cost: 10 }, e), 1);
  t.match(e.err(), /user zed not found/);
});

t.test('bad input is refused with a clear message', async (t) => {
  const dir = tempDirSync(t);
  const file = join(dir, 'users');
  const colon = io('pw\n');
  t.equal(await runHtpasswd({ action: 'add', file, user: 'a:b', cost: 10 }, colon), 1);
  t.match(colon.err(), /must not contain ":"/);
  const empty = io('\n');
  t.equal(await runHtpasswd({ action: 'add', file, user: 'a', cost: 10 }, empty), 1);
  t.match(empty.err(), /empty password/);
  const cost = io('pw\n');
  t.equal(await runHtpasswd({ action: 'add', file, user: 'a', cost: 40 }, cost), 1);
  const missing = io('pw\n');
  t.equal(await runHtpasswd({ action: 'verify', file: join(dir, 'none'), user: 'a', cost: 10 }, missing), 1);
  t.match(missing.err(), /ENOENT/);
});
