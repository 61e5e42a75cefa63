/**
 * The 401/403/429 answers, as RegistryErrors the gateway writes with sendRegistryError
 * (which adds `Docker-Distribution-Api-Version: registry/2.0`; without it docker login
 * treats the 401 as "not a v2 registry", distribution#1135, docs/pitfalls.md: "The API version header on every answer").
 */
import { RegistryError } from '../oci/errors.js';
import type { Action } from '../oci/operations.js';

function quote(v: string): string {
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}`;
}

/**
 * The token-protocol challenge. The realm must be the public URL of our /token, reachable by
 * the client with the scheme it used (docs/pitfalls.md: "Token realm pointing at an internal or http:// address", harbor#3114, moby#38662).
 */
export function bearerChallenge(p: {
  realm: string;
  service: string;
  scope?: string;
  error?: 'invalid_token' | 'insufficient_scope';
}): string {
  let v = `Bearer realm=${quote(p.realm)},service=${quote(p.service)}`;
  if (p.scope) v += `,scope=${quote(p.scope)}`;
  if (p.error) v += `,error=${quote(p.error)}`;
  return v;
}

export function unauthorized(challenge: string, message = 'authentication required'): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, null, 401, { 'www-authenticate': challenge });
}

export function denied(user: string, repository: string, action: Action): RegistryError {
  return new RegistryError(
    'DENIED',
    `requested access to the resource is denied: user "${user}" may not ${action} repository "${repository}"`,
    { repository, action },
    403,
  );
}

export function throttled(retryAfterMs: number): RegistryError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new RegistryError(
    'TOOMANYREQUESTS',
    `too many failed login attempts from this address; retry in ${seconds}s`,
    { retryAfterSeconds: seconds },
    429,
    { 'retry-after': String(seconds) },
  );
}
