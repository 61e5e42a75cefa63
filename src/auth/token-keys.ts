/**
 * The keys that sign and verify tokens. Tokens must be accepted by whichever process a
 * request lands on (every worker, every instance behind a load balancer) and must outlive a
 * restart, so the key cannot be a per-process random value: it is read from a file every
 * instance is given (--token-key), one key per line. The first key signs; all are accepted,
 * so a key is rotated by adding a new first line, reloading (SIGHUP), and removing the old
 * line once the tokens it signed have expired (--token-ttl).
 *
 * A missing file is created with one random key, mode 0600, exclusively: two instances
 * starting at once on a shared file both end up with the one that won the race.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { InvalidValue } from '../oci/invalid-value.js';

/** Shorter keys are too easy to guess for HMAC-SHA256 (a random 32-byte key in base64 is 43 characters). */
const MIN_KEY_CHARS = 32;

export interface SigningKey {
  /** Names the key in the token header, so verification tries the right key first. */
  id: string;
  secret: Uint8Array;
}

/** The token key file cannot be used: a value error of --token-key. */
export class TokenKeyError extends InvalidValue {}

function keyOf(text: string): SigningKey {
  const secret = new Uint8Array(Buffer.from(text, 'utf8'));
  return { id: createHash('sha256').update(secret).digest('hex').slice(0, 16), secret };
}

/** A random key for a process group that was given no file: shared by its workers, lost on restart. */
export function randomKeyText(): string {
  return randomBytes(32).toString('base64url');
}

export function keysFromText(text: string, where: string): SigningKey[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new TokenKeyError(`${where}: holds no key (one key per line, the first signs)`);
  for (const [i, l] of lines.entries())
    if (l.length < MIN_KEY_CHARS)
      throw new TokenKeyError(
        `${where}: key ${i + 1} has ${l.length} characters, at least ${MIN_KEY_CHARS} are needed (e.g. openssl rand -base64 32)`,
      );
  return lines.map(keyOf);
}

/** Create the file with one random key if it does not exist yet; returns true if it was created here. */
export function ensureTokenKeyFile(file: string): boolean {
  try {
    writeFileSync(file, `${randomKeyText()}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new TokenKeyError(`${file}: cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function readTokenKeyFile(file: string): SigningKey[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TokenKeyError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return keysFromText(text, file);
}

/** True when users other than the owner may read the file: anyone who reads it can mint tokens. */
export function readableByOthers(file: string): boolean {
  try {
    return (statSync(file).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}
