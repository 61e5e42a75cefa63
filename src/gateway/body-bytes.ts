/**
 * Request body bytes, counted as Node's HTTP parser hands them to the request stream.
 *
 * The socket's own read counter cannot give this: the read that completes a request's header
 * usually carries the start of its body too, so a snapshot taken when the request begins has
 * already counted those bytes and the body comes out short (by up to one read, 64 KiB); over
 * TLS it counts ciphertext. The parser pushes every body chunk into the request, whether or
 * not anything reads it yet, so counting there is exact and changes no flow.
 */
import type { IncomingMessage } from 'node:http';

export function countBodyBytes(req: IncomingMessage): () => number {
  let n = 0;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk && typeof (chunk as { length?: unknown }).length === 'number') n += (chunk as Buffer).length;
    return push(chunk, encoding);
  };
  return () => n;
}
