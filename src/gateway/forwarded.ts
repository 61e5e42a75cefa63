/**
 * Who the client is and which origin it used: computed once per request.
 *
 * Inbound X-Forwarded-* / Forwarded / X-Real-IP are believed only when the socket peer is
 * in --trusted-proxies ("fail closed", as fastify and Caddy do): otherwise a client could
 * spoof its IP in audit logs (docs/pitfalls.md: "The client's address in logs") or make the registry build http:// Locations
 * (distribution#2225, docs/pitfalls.md: "Location says http:// behind TLS").
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { BlockList } from 'node:net';
import { inList } from '../config/addresses.js';

export interface ClientView {
  /** The client's address (the peer, or the first untrusted hop behind trusted proxies). */
  ip: string;
  /** The socket peer, which is what X-Forwarded-For gets extended with. */
  peer: string;
  scheme: 'http' | 'https';
  /** Host (with port if not default) as the client sent it. */
  host: string;
  /** X-Forwarded-For as received, kept only from trusted peers. */
  priorForwardedFor?: string;
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  return v.split(',')[0]!.trim() || undefined;
}

function forwardedParam(header: string | undefined, key: string): string | undefined {
  if (!header) return undefined;
  const firstElement = header.split(',')[0]!;
  for (const pair of firstElement.split(';')) {
    const [k, v] = pair.split('=');
    if (k?.trim().toLowerCase() === key && v) return v.trim().replace(/^"|"$/g, '');
  }
  return undefined;
}

/** Whether a connection's peer is a trusted proxy, kept on the socket: the peer cannot change. */
const PEER_TRUST = Symbol('peerTrust');
type TrustMemo = { [PEER_TRUST]?: { list: BlockList; trusted: boolean } };

/** BlockList.check builds a SocketAddress per call; asked once per connection instead of per request. */
function peerTrusted(req: IncomingMessage, trusted: BlockList, peer: string): boolean {
  const socket = req.socket as IncomingMessage['socket'] & TrustMemo;
  const memo = socket[PEER_TRUST];
  if (memo?.list === trusted) return memo.trusted;
  const answer = inList(trusted, peer);
  socket[PEER_TRUST] = { list: trusted, trusted: answer };
  return answer;
}

export function resolveClient(req: IncomingMessage, trusted: BlockList, publicUrl?: URL): ClientView {
  const peer = req.socket.remoteAddress ?? '';
  const encrypted = Boolean((req.socket as TLSSocket).encrypted);
  let scheme: 'http' | 'https' = encrypted ? 'https' : 'http';
  let host = req.headers.host ?? '';
  let ip = peer;
  let priorForwardedFor: string | undefined;
  if (trusted && peerTrusted(req, trusted, peer)) {
    const fwd = req.headers.forwarded;
    const proto = (forwardedParam(fwd, 'proto') ?? first(req.headers['x-forwarded-proto']))?.toLowerCase();
    if (proto === 'http' || proto === 'https') scheme = proto;
    host = forwardedParam(fwd, 'host') ?? first(req.headers['x-forwarded-host']) ?? host;
    priorForwardedFor = Array.isArray(req.headers['x-forwarded-for'])
      ? req.headers['x-forwarded-for'].join(', ')
      : req.headers['x-forwarded-for'];
    // The client is the rightmost hop that is not itself a trusted proxy.
    const hops = (priorForwardedFor ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const candidate =
      [...hops].reverse().find((h) => !inList(trusted, h)) ?? hops[0] ?? first(req.headers['x-real-ip']);
    if (candidate) ip = candidate;
  }
  if (publicUrl) {
    scheme = publicUrl.protocol === 'https:' ? 'https' : 'http';
    host = publicUrl.host;
  }
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  return { ip, peer: peer.startsWith('::ffff:') ? peer.slice(7) : peer, scheme, host, priorForwardedFor };
}

export function publicOrigin(client: ClientView): string {
  return `${client.scheme}://${client.host}`;
}
