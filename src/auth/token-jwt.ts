/**
 * Sign and verify the short-lived tokens of the built-in token service. HS256 under a
 * per-process random secret: only this process issues and checks them, so there is no key
 * to configure, rotate or leak; a restart invalidates outstanding tokens, and clients just
 * fetch new ones after the next 401.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { GrantedAccess } from './token-scope.js';

const ISSUER = 'portcullis';

export interface TokenClaims {
  /** '' for anonymous tokens. */
  subject: string;
  access: GrantedAccess[];
}

export class TokenSigner {
  private readonly secret = new Uint8Array(randomBytes(32));

  constructor(
    private readonly service: string,
    private readonly ttlMs: number,
  ) {}

  async sign(claims: TokenClaims, now = Date.now()): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const iat = Math.floor(now / 1000);
    // JWT times are whole seconds: expiry rounds up, so a token lives at least expiresIn seconds
    // (iat + 1 could be 1 ms away when issued at x.999).
    const expiresIn = Math.max(1, Math.round(this.ttlMs / 1000));
    const token = await new SignJWT({ access: claims.access })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(claims.subject)
      .setAudience(this.service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(Math.ceil(now / 1000) + expiresIn)
      .setJti(randomUUID())
      .sign(this.secret);
    return { token, expiresIn, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** The claims of a valid token, or undefined for expired, tampered or foreign tokens. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
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
