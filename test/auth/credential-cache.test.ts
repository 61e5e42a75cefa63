/**
 * A push of many layers must cost one bcrypt, not one per request. Measured with
 * a cost-10 hash, the default of `htpasswd -B` and of `portcullis htpasswd add`.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HtpasswdStore } from '../../src/auth/htpasswd-store.js';
import { captureLogger, withTempDir } from './fixtures/helpers.js';

async function store(dir: string): Promise<HtpasswdStore> {
  const file = join(dir, 'users');
  execFileSync('htpasswd', ['-bcB', '-C', '10', file, 'alice', 'correct horse']);
  return HtpasswdStore.open({ file, allowPlain: false, logger: captureLogger().logger, watch: false });
}

t.test('the second check of the same credentials is a cache hit, more than 10x faster than bcrypt', async (t) => {
  await withTempDir(async (dir) => {
    const s = await store(dir);
    const t0 = performance.now();
    t.equal(await s.verify('alice', 'correct horse'), true);
    const first = performance.now() - t0;
    const t1 = performance.now();
    t.equal(await s.verify('alice', 'correct horse'), true);
    const second = performance.now() - t1;
    t.equal(s.verifications, 1, 'one real verification');
    t.ok(first > 10 * second, `bcrypt ${first.toFixed(2)} ms vs cache hit ${second.toFixed(3)} ms`);
    t.comment(`bcrypt cost 10 verify: ${first.toFixed(1)} ms; cache hit: ${(second * 1000).toFixed(0)} µs`);
    s.close();
  });
});

t.test('150 concurrent requests with the same credentials run bcrypt once', async (t) => {
  await withTempDir(async (dir) => {
    const s = await store(dir);
    const results = await Promise.all(Array.from({ length: 150 }, () => s.verify('alice', 'correct horse')));
    t.ok(results.every(Boolean));
    t.equal(s.verifications, 1);
    s.close();
  });
});

t.test('wrong passwords are never cached: each one pays bcrypt', async (t) => {
  await withTempDir(async (dir) => {
    const s = await store(dir);
    t.equal(await s.verify('alice', 'wrong'), false);
    t.equal(await s.verify('alice', 'wrong'), false);
    t.equal(s.verifications, 2);
    t.equal(s.cache.size, 0);
    s.close();
  });
});

t.test('unknown users cost a dummy bcrypt (no timing shortcut)', async (t) => {
  await withTempDir(async (dir) => {
    const s = await store(dir);
    const t0 = performance.now();
    t.equal(await s.verify('mallory', 'x'), false);
    const ms = performance.now() - t0;
    t.ok(ms > 10, `unknown user took ${ms.toFixed(1)} ms`);
    s.close();
  });
});

t.test('a reload clears the cache: a changed password stops working at once', async (t) => {
  await withTempDir(async (dir) => {
    const s = await store(dir);
    t.equal(await s.verify('alice', 'correct horse'), true);
    execFileSync('htpasswd', ['-bB', '-C', '5', join(dir, 'users'), 'alice', 'new password']);
    t.equal(await s.reload(), true);
    t.equal(s.cache.size, 0);
    t.equal(await s.verify('alice', 'correct horse'), false);
    t.equal(await s.verify('alice', 'new password'), true);
    s.close();
  });
});

t.test('the cache holds HMACs, never the password', async (t) => {
  await withTempDir(async (dir) => {
    const s = await store(dir);
    await s.verify('alice', 'correct horse');
    const internals = JSON.stringify([...(s.cache as unknown as { verified: Map<string, string> }).verified.keys()]);
    t.notMatch(internals, /correct horse/);
    s.close();
  });
});
