/** What the gateway knows about one request, built once and handed to each step. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientView } from './forwarded.js';
import type { RegistryRoute } from '../oci/route.js';

export interface RequestContext {
  id: string;
  req: IncomingMessage;
  res: ServerResponse;
  startNs: bigint;
  client: ClientView;
  route: RegistryRoute;
  userAgent?: string;
  user?: string;
  clientType: string;
  clientVersion?: string;
  /** Request body bytes received so far (body-bytes.ts). */
  bodyBytesIn: () => number;
  /** The socket's write counter at the start, so keep-alive requests each count their own bytes. */
  socketWrittenStart: number;
  upstreamMs?: number;
  upstreamError?: string;
  upstreamMember?: string;
  /** Built-in endpoints (stats) are not access-logged, like nginx's stub_status location with access_log off. */
  quiet?: boolean;
}

export function bytesIn(ctx: RequestContext): number {
  return ctx.bodyBytesIn();
}

export function bytesOut(ctx: RequestContext): number {
  return Math.max(0, ctx.req.socket.bytesWritten - ctx.socketWrittenStart);
}
