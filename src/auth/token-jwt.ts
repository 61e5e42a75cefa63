/**
 * Sign and verify the short-lived tokens of the built-in token service: HS256 under the keys
 * of token-keys.ts (the first signs, every one verifies), so any worker or instance holding
 * the same keys accepts a token another one issued.
 */
import { randomUUID } from 'node:crypto';
import type { GrantedAccess } from './token-scope.js';
import type { SigningKey } from './token-keys.js';

const ISSUER = 'portcullis';

/** jose (about 45 modules) is loaded with the first token issued or presented, not at start-up. */
let jose: Promise<typeof import('jose')> | undefined;
const loadJose = () => {
  jose ??= import('jose');
  return jose;
};

export interface TokenClaims {
  /** '' for anonymous tokens. */
  subject: string;
  access: GrantedAccess[];
}

export class TokenSigner {
  constructor(
    private readonly service: string,
    private readonly ttlMs: number,
    private keys: SigningKey[],
  ) {
    // Cannot happen from input: a key file with no key is refused at start-up (TokenKeyError),
    // and without a file one key is generated.
    if (keys.length === 0) throw new Error('TokenSigner needs at least one key');
  }

  /** New keys (SIGHUP after a rotation); tokens signed with a key still listed stay valid. */
  setKeys(keys: SigningKey[]): void {
    if (keys.length) this.keys = keys;
  }

  async sign(claims: TokenClaims, now = Date.now()): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const iat = Math.floor(now / 1000);
    // JWT times are whole seconds: expiry rounds up, so a token lives at least expiresIn seconds
    // (iat + 1 could be 1 ms away when issued at x.999).
    const expiresIn = Math.max(1, Math.round(this.ttlMs / 1000));
    const { SignJWT } = await loadJose();
    const token = await new SignJWT({ access: claims.access })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: this.keys[0]!.id })
      .setIssuer(ISSUER)
      .setSubject(claims.subject)
      .setAudience(this.service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(Math.ceil(now / 1000) + expiresIn)
      .setJti(randomUUID())
      .sign(this.keys[0]!.secret);
    return { token, expiresIn, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** The claims of a valid token, or undefined for expired, tampered or foreign tokens. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    const { decodeProtectedHeader, jwtVerify } = await loadJose();
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return undefined;
    }
    // The named key if we hold it; tokens without a kid (or a kid we no longer list) fail.
    const key = this.keys.find((k) => k.id === kid);
    if (!key) return undefined;
    try {
      const { payload } = await jwtVerify(token, key.secret, {
        issuer: ISSUER,
        audience: this.service,
        algorithms: ['HS256'],
      });
      const access = Array.isArray(payload.access) ? (payload.access as GrantedAccess[]) : [];
      return { subject: typeof payload.sub === 'string' ? payload.sub : '', access };
    } catch {
      return undefined;
    }
  }
}

export function tokenGrants(claims: TokenClaims, type: string, name: string, action: string): boolean {
  return claims.access.some(
    (a) =>
      a.type === type &&
      a.name === name &&
      Array.isArray(a.actions) &&
      (a.actions.includes(action) || a.actions.includes('*')),
  );
}
