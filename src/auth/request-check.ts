/**
 * AuthService.check: authenticate a registry request (Basic, Bearer from our token service,
 * or nobody) and authorize its (repository, action) against the access policy.
 *
 * Rules (docs/pitfalls.md: "The challenge on /v2/"):
 * - GET /v2/ without credentials is always challenged, even under --anonymous-read: docker
 *   learns how to authenticate from that challenge, and an anonymous 200 there makes
 *   `docker login` accept any password.
 * - Decisions are per (repository, action), never per HTTP method (moby#22300, #40290).
 * - Anonymous and not allowed → 401 (so clients send credentials); authenticated and not
 *   allowed → 403 DENIED naming the repository and the action.
 */
import type { Action, RegistryRoute } from '../oci/route.js';
import type { AuthRequest, AuthResult } from './index.js';
import { parseAuthorization } from './authorization-header.js';
import { basicChallenge, bearerChallenge, denied, throttled, unauthorized } from './challenge.js';
import { verifyBasic, type AuthCore } from './auth-core.js';
import { scopeFor } from './token-scope.js';
import { tokenGrants, type TokenClaims } from './token-jwt.js';

/** Health checks of load balancers and old clients never need credentials. */
const HEALTH_PATHS = new Set(['/_ping', '/v1/_ping', '/v2/_ping']);

export async function checkRequest(core: AuthCore, r: AuthRequest): Promise<AuthResult> {
  const { path } = r.route;
  if (!r.route.api && (HEALTH_PATHS.has(path) || path === core.tokenPath)) return { ok: true };

  const header = r.headers.authorization;
  const memo = r.connection !== undefined && typeof header === 'string' ? r.connection : undefined;
  if (memo !== undefined) {
    const user = core.htpasswd.connections.userFor(memo, header as string);
    if (user !== undefined) {
      // Verified earlier on this connection; an address blocked since then is still refused.
      const blocked = core.brute.blockedFor(r.clientIp);
      if (blocked > 0) return { ok: false, reason: 'throttled', error: throttled(blocked) };
      return authorize(core, r, user, undefined);
    }
  }
  const creds = parseAuthorization(header);
  let user: string | undefined;
  let claims: TokenClaims | undefined;
  switch (creds.kind) {
    case 'none':
      break;
    case 'malformed':
      return challenge(core, r, 'invalid', 'malformed Authorization header');
    case 'basic': {
      const generation = core.htpasswd.cache.generation;
      const out = await verifyBasic(core, creds, r.clientIp);
      if (!out.ok) {
        if (out.error) return { ok: false, error: out.error, reason: out.reason };
        return challenge(core, r, 'invalid', 'invalid username or password');
      }
      user = out.user;
      if (memo !== undefined) core.htpasswd.connections.remember(memo, header as string, user, generation);
      break;
    }
    case 'bearer': {
      claims = await core.signer.verify(creds.token);
      // A token outlives neither its expiry nor its user's removal from the htpasswd file.
      if (!claims || (claims.subject !== '' && !core.htpasswd.has(claims.subject))) {
        return challenge(core, r, 'invalid', 'invalid or expired token', 'invalid_token');
      }
      user = claims.subject === '' ? undefined : claims.subject;
      break;
    }
  }
  return authorize(core, r, user, claims);
}

function authorize(
  core: AuthCore,
  r: AuthRequest,
  user: string | undefined,
  claims: TokenClaims | undefined,
): AuthResult {
  const known = user !== undefined || claims !== undefined;
  const { route } = r;
  if (route.operation === 'catalog' || route.operation === 'catalog_usage' || r.listing) {
    // The gateway filters the list with filterCatalog(); anonymous listing only under --anonymous-read.
    return user !== undefined || core.anonymousRead ? { ok: true, user } : challenge(core, r, 'missing');
  }
  if (route.repository && route.action) {
    const needs: Array<[string, Action]> = [[route.repository, route.action]];
    const from = mountSource(route);
    if (from) needs.push([from, 'pull']);
    for (const [repo, action] of needs) {
      const result = authorizeOne(core, r, user, claims, repo, action);
      if (!result.ok) return result;
    }
    return { ok: true, user };
  }
  // /v2/ and any other path: any authenticated client (an anonymous token counts: it can only
  // come from our /token, which refuses wrong passwords, so `docker login` still fails).
  return known ? { ok: true, user } : challenge(core, r, 'missing');
}

function authorizeOne(
  core: AuthCore,
  r: AuthRequest,
  user: string | undefined,
  claims: TokenClaims | undefined,
  repository: string,
  action: Action,
): AuthResult {
  const allowed = core.access.allows(user, repository, action);
  if (allowed && (!claims || tokenGrants(claims, 'repository', repository, action))) return { ok: true, user };
  if (allowed) {
    // Allowed, but the token was issued for a narrower scope: ask the client for a new one.
    return challenge(
      core,
      r,
      'missing',
      'token does not cover this action',
      'insufficient_scope',
      scopeFor(repository, action),
    );
  }
  if (user === undefined)
    return challenge(
      core,
      r,
      'missing',
      'authentication required',
      claims ? 'insufficient_scope' : undefined,
      scopeFor(repository, action),
    );
  core.logger.info({ clientIp: r.clientIp, user, repository, action }, 'access denied');
  return { ok: false, reason: 'denied', error: denied(user, repository, action) };
}

/**
 * Cross-repository blob mount (`POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`)
 * reads from `from`: without this check, push rights on one repository would copy any
 * blob out of a repository the user may not pull.
 */
function mountSource(route: RegistryRoute): string | undefined {
  if (route.operation !== 'blob_upload') return undefined;
  return route.query.has('mount') ? (route.query.get('from') ?? undefined) : undefined;
}

function challenge(
  core: AuthCore,
  r: AuthRequest,
  reason: 'missing' | 'invalid',
  message = 'authentication required',
  error?: 'invalid_token' | 'insufficient_scope',
  scope?: string,
): AuthResult {
  const header =
    core.scheme === 'token'
      ? bearerChallenge({
          realm: `${r.publicOrigin}${core.tokenPath}`,
          service: core.service,
          scope: scope ?? defaultScope(r),
          error,
        })
      : basicChallenge(core.realm);
  return { ok: false, reason, error: unauthorized(header, message) };
}

function defaultScope(r: AuthRequest): string | undefined {
  if (r.route.operation === 'catalog' || r.route.operation === 'catalog_usage' || r.listing)
    return 'registry:catalog:*';
  if (r.route.repository && r.route.action) return scopeFor(r.route.repository, r.route.action);
  return undefined;
}
