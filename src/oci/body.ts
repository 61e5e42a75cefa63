/** Whether a request carries a body, from its framing headers alone (the body is never read here). */
import type { IncomingMessage } from 'node:http';

/**
 * True when the request is chunked or declares a non-zero length. A malformed Content-Length
 * counts as a body: Node refuses those before a handler runs, and assuming a body is the safe
 * side (such a request is never replayed to another upstream member).
 */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = req.headers['content-length'];
  return len !== undefined && Number(len) !== 0;
}
