/**
 * Read the Authorization header. Total: any value (or none) yields a result, never a throw;
 * test/auth/authorization-header.test.ts checks that with fast-check.
 */

export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'malformed' };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function parseAuthorization(value: string | string[] | undefined): Credentials {
  // Node joins repeated headers for most names, but not for all; a second Authorization
  // header is ambiguous, so refuse it rather than guess which one a proxy meant.
  if (Array.isArray(value)) return value.length === 0 ? { kind: 'none' } : { kind: 'malformed' };
  if (value === undefined) return { kind: 'none' };
  const v = value.trim();
  if (v === '') return { kind: 'none' };
  const sp = v.indexOf(' ');
  const scheme = (sp === -1 ? v : v.slice(0, sp)).toLowerCase();
  const param = sp === -1 ? '' : v.slice(sp + 1).trim();
  if (scheme === 'basic') return parseBasic(param);
  if (scheme === 'bearer') return param === '' ? { kind: 'malformed' } : { kind: 'bearer', token: param };
  return { kind: 'malformed' };
}

function parseBasic(param: string): Credentials {
  if (param === '' || !BASE64.test(param)) return { kind: 'malformed' };
  const decoded = Buffer.from(param, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { kind: 'malformed' };
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  // `Basic Og==` is ":" — what skopeo sends after a challenge when it has no credentials.
  // It is "no credentials", not a wrong password, and must not count as a failure.
  if (user === '' && password === '') return { kind: 'none' };
  return { kind: 'basic', user, password };
}
