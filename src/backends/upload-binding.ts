/**
 * Which upstream member holds an upload session. registry:2 members only share upload state
 * when they share storage and http.secret, so every PATCH/PUT of an upload must reach the
 * member its POST reached. The binding travels in the upload Location the client is given
 * (a `_member` query parameter), not in a table: whichever worker or instance receives the
 * next request of the upload reads it from the URL, with nothing to share or expire.
 *
 * The value is a hash of the member's origin, not the origin itself: it reveals no internal
 * address, and a forged value can only name one of the members this instance was configured
 * with (or none, and the request is balanced as usual), never an arbitrary host.
 */
import { createHash } from 'node:crypto';

export const MEMBER_PARAM = '_member';

export function memberId(origin: string): string {
  return createHash('sha256').update(origin).digest('base64url').slice(0, 12);
}

/** The member id a request URL carries, and the URL without it (what the member is sent). */
export function takeMemberParam(url: string): { id?: string; url: string } {
  const q = url.indexOf('?');
  if (q < 0) return { url };
  const params = new URLSearchParams(url.slice(q + 1));
  const id = params.get(MEMBER_PARAM) ?? undefined;
  if (id === undefined) return { url };
  params.delete(MEMBER_PARAM);
  const rest = params.toString();
  return { id, url: rest ? `${url.slice(0, q)}?${rest}` : url.slice(0, q) };
}

/** The Location with the member id added (replacing one the member may have echoed back). */
export function withMemberParam(location: string, id: string): string {
  const hash = location.indexOf('#');
  const base = hash < 0 ? location : location.slice(0, hash);
  const stripped = takeMemberParam(base).url;
  const sep = stripped.includes('?') ? '&' : '?';
  return `${stripped}${sep}${MEMBER_PARAM}=${encodeURIComponent(id)}`;
}
