/** The state the request check and the token endpoint share. */
import type { Logger } from 'pino';
import type { HtpasswdStore } from './htpasswd-store.js';
import type { AccessStore } from './access-store.js';
import type { BruteForceGuard } from './brute-force.js';
import type { TokenSigner } from './token-jwt.js';
import type { Credentials } from './authorization-header.js';
import { throttled } from './challenge.js';
import type { RegistryError } from '../oci/errors.js';

export interface AuthCore {
  realm: string;
  scheme: 'basic' | 'token';
  service: string;
  tokenPath: string;
  anonymousRead: boolean;
  htpasswd: HtpasswdStore;
  access: AccessStore;
  brute: BruteForceGuard;
  signer: TokenSigner;
  logger: Logger;
  /** Told of every wrong password, so a group of workers can count per IP across all of them. */
  onAuthFailure?: (clientIp: string) => void;
}

export type BasicOutcome =
  | { ok: true; user: string }
  | { ok: false; reason: 'invalid' | 'throttled'; error?: RegistryError };

/**
 * Verify Basic credentials with brute-force accounting. While an address is blocked even a
 * correct password gets 429: answering it would let the attacker keep guessing at full speed
 * and recognise the right password by the different status.
 */
export async function verifyBasic(
  core: AuthCore,
  creds: Extract<Credentials, { kind: 'basic' }>,
  clientIp: string,
): Promise<BasicOutcome> {
  const blocked = core.brute.blockedFor(clientIp);
  if (blocked > 0) return { ok: false, reason: 'throttled', error: throttled(blocked) };
  if (await core.htpasswd.verify(creds.user, creds.password)) return { ok: true, user: creds.user };
  const startedBlock = core.brute.recordFailure(clientIp);
  core.onAuthFailure?.(clientIp);
  // The user name is logged (operators need it to spot attacks); the password never is.
  core.logger.warn({ clientIp, user: creds.user }, 'wrong credentials');
  if (startedBlock > 0) {
    core.logger.warn({ clientIp, blockMs: startedBlock }, 'too many wrong credentials; blocking this address');
  }
  return { ok: false, reason: 'invalid' };
}
