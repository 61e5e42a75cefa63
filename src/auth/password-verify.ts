/**
 * Verify a password against one htpasswd hash.
 *
 * bcrypt runs through the native module's async API (libuv thread pool) so a cost-10 verify
 * does not stall every other request for ~80 ms. The other formats are cheap and computed
 * inline; their results are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcrypt';

/**
 * The apr1 and DES crypt hashers load with the first such hash: most htpasswd files hold only
 * bcrypt (what `htpasswd -B` and the htpasswd subcommand write), and a module loaded at start
 * stays resident in every idle server. Both packages are CommonJS, so require() keeps this sync.
 */
const requireHere = createRequire(import.meta.url);
let apacheMd5: typeof import('apache-md5').default | undefined;
let apacheCrypt: typeof import('apache-crypt').default | undefined;
import type { HtpasswdEntry } from './htpasswd-parse.js';

/**
 * A cost-10 bcrypt hash of a random string nobody knows. Unknown users are checked against
 * it so that "no such user" takes as long as "wrong password" (registry:2 does the same,
 * registry/auth/htpasswd/htpasswd.go).
 */
const DUMMY_BCRYPT = '$2b$10$tWZefKZ3e8CLhdqRoLE40uQHIfWh.MhP5eUXP408xjR8EP9Ue9JaW';

/** Constant-time string equality that does not leak the length either (both sides hashed). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export async function verifyPassword(entry: HtpasswdEntry, password: string): Promise<boolean> {
  switch (entry.kind) {
    case 'bcrypt':
      // node bcrypt understands $2a$ and $2b$ but answers false for $2y$ (what Apache's
      // `htpasswd -B` writes). $2y$ is PHP's name for the same corrected algorithm as $2b$.
      return bcrypt.compare(password, entry.hash.replace(/^\$2y\$/, '$2b$'));
    case 'apr1':
      apacheMd5 ??= requireHere('apache-md5') as typeof import('apache-md5').default;
      return constantTimeEqual(apacheMd5(password, entry.hash), entry.hash);
    case 'sha':
      return constantTimeEqual(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, entry.hash);
    case 'crypt':
      // DES crypt only looks at the first 8 characters of the password; that is the format.
      apacheCrypt ??= requireHere('apache-crypt') as typeof import('apache-crypt').default;
      return constantTimeEqual(apacheCrypt(password, entry.hash.slice(0, 2)), entry.hash);
    case 'plain':
      return constantTimeEqual(password, entry.hash);
  }
}

/** Burn the same time as a bcrypt verify; used for unknown users. Always false. */
export async function verifyDummy(password: string): Promise<false> {
  await bcrypt.compare(password, DUMMY_BCRYPT);
  return false;
}
