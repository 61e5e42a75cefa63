/**
 * Header passes on the way to and from the backend. Each is a small pure function so it can
 * be tested alone. docs/pitfalls.md has why, under "Chunked request bodies", the three
 * Location entries, "Multi-valued and untrusted X-Forwarded-* headers", "Token realm pointing
 * at an internal or http:// address", "Content-Length, Transfer-Encoding and hop-by-hop
 * headers" and "Catalog and tags pagination".
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ClientView } from './forwarded.js';
import { API_VERSION, API_VERSION_HEADER } from '../oci/errors.js';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the proxy-only ones nginx also drops. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  // The gateway's own server already answered "100 Continue"; the upstream must not be asked again.
  'expect',
]);

/** Client-supplied forwarding headers; rebuilt by the gateway, never passed on as sent. */
const FORWARDING = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'x-original-uri',
]);

function connectionTokens(headers: IncomingHttpHeaders): string[] {
  const c = headers.connection;
  return c
    ? c
        .toLowerCase()
        .split(',')
        .map((s) => s.trim())
    : [];
}

/**
 * Headers for the upstream request. Host is kept byte for byte (the registry builds
 * Locations from it, docs/pitfalls.md: "Wrong host or port in Location"); forwarding headers are single-valued and computed.
 * Transfer-Encoding is hop-by-hop: Node re-chunks a body without Content-Length itself,
 * and bodiless requests never get a chunked encoding (docs/pitfalls.md: "Chunked request bodies").
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  client: ClientView,
  rawUrl: string,
): OutgoingHttpHeaders {
  const named = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || FORWARDING.has(k) || named.includes(k)) continue;
    out[k] = v;
  }
  out['x-forwarded-for'] = client.priorForwardedFor ? `${client.priorForwardedFor}, ${client.peer}` : client.ip;
  out['x-real-ip'] = client.ip;
  out['x-forwarded-proto'] = client.scheme;
  if (client.host) out['x-forwarded-host'] = client.host;
  out['x-original-uri'] = rawUrl;
  return out;
}

/**
 * Rewrite a URL that points at the upstream's own origin (or at http:// of the public host
 * while the client used https) to the public origin. Foreign origins, such as presigned
 * storage URLs, are left alone (docs/pitfalls.md: "Storage redirects"). Path and query are kept exactly: `_state` is
 * an HMAC-signed value (docs/pitfalls.md: "Location on 202 and 204, not only on redirects").
 */
export function rewriteUrl(value: string, upstreamOrigins: ReadonlySet<string>, client: ClientView): string {
  if (value.startsWith('/')) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  const publicHost = client.host.toLowerCase();
  const internal = upstreamOrigins.has(url.origin);
  const downgraded = url.host.toLowerCase() === publicHost && url.protocol !== `${client.scheme}:`;
  if (!internal && !downgraded) return value;
  return `${client.scheme}://${client.host}${value.slice(url.origin.length)}`;
}

/** RFC 8288 Link: rewrite each <URI-Reference>. */
export function rewriteLink(value: string, upstreamOrigins: ReadonlySet<string>, client: ClientView): string {
  return value.replace(/<([^>]*)>/g, (_, uri: string) => `<${rewriteUrl(uri, upstreamOrigins, client)}>`);
}

/** Bearer realm="..." of an upstream token service: point it at the public origin (docs/pitfalls.md: "Token realm pointing at an internal or http:// address"). */
export function rewriteAuthenticate(value: string, upstreamOrigins: ReadonlySet<string>, client: ClientView): string {
  return value.replace(
    /realm="([^"]*)"/i,
    (_, realm: string) => `realm="${rewriteUrl(realm, upstreamOrigins, client)}"`,
  );
}

/** Headers for the client from an upstream response. */
export function clientResponseHeaders(
  headers: IncomingHttpHeaders,
  upstreamOrigins: ReadonlySet<string>,
  client: ClientView,
): OutgoingHttpHeaders {
  const named = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.includes(k)) continue;
    if (k === 'location' && typeof v === 'string') out[k] = rewriteUrl(v, upstreamOrigins, client);
    else if (k === 'link')
      out[k] = Array.isArray(v)
        ? v.map((l) => rewriteLink(l, upstreamOrigins, client))
        : rewriteLink(v as string, upstreamOrigins, client);
    else if (k === 'www-authenticate' && typeof v === 'string')
      out[k] = rewriteAuthenticate(v, upstreamOrigins, client);
    else out[k] = v;
  }
  // distribution always sends it, but other registries and error pages may not (docs/pitfalls.md: "The API version header on every answer").
  if (out[API_VERSION_HEADER] === undefined) out[API_VERSION_HEADER] = API_VERSION;
  return out;
}
