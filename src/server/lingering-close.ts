/**
 * Lingering close, as nginx's `lingering_close`: when the answer goes out while the request
 * body is still arriving (a 413, 401, 403, 404, 429 or 400 decided before the body was read),
 * the connection is not simply closed. Closing a socket with unread data makes the kernel send
 * a reset, and a client still writing its body then sees a broken pipe instead of the answer.
 *
 * Instead the answer says `Connection: close`, the write side is shut once it is flushed (the
 * client has the whole answer), and what the client still sends is read and dropped until it
 * stops, within bounds a slow or endless sender cannot stretch: a total time, a time without
 * a byte, and a byte count. Past any of them the socket is destroyed.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { hasBody } from '../oci/body.js';

export interface LingerBounds {
  /** Longest the connection is kept after the answer (nginx `lingering_time`). */
  timeMs: number;
  /** Longest wait for the next byte (nginx `lingering_timeout`). */
  idleMs: number;
  /** Most bytes read and dropped after the answer. */
  maxBytes: number;
}

/** 64 MiB: several times any manifest, and seconds at most on a fast link. */
export const LINGER_MAX_BYTES = 64 << 20;

/** nginx's defaults for the two times. */
export const DEFAULT_LINGER: LingerBounds = { timeMs: 30_000, idleMs: 5_000, maxBytes: LINGER_MAX_BYTES };

const LINGERING = Symbol('portcullis.lingering');
type LingeringSocket = Socket & { [LINGERING]?: true };

/** Wrap a request handler so that early answers to requests with a body close by lingering. */
export function withLingeringClose(handler: RequestListener, bounds: LingerBounds): RequestListener {
  return (req, res) => {
    const socket = req.socket as LingeringSocket;
    if (socket[LINGERING]) {
      // A request pipelined behind an answer that closes the connection is never served.
      socket.destroy();
      return;
    }
    if (hasBody(req)) watchForEarlyAnswer(req, res, bounds);
    handler(req, res);
  };
}

function watchForEarlyAnswer(req: IncomingMessage, res: ServerResponse, bounds: LingerBounds): void {
  const writeHead = res.writeHead;
  // Every answer passes through writeHead (res.end() without it calls it too).
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead;
    if (!req.complete && !this.headersSent) {
      this.setHeader('connection', 'close');
      const socket = req.socket as LingeringSocket;
      socket[LINGERING] = true;
      // Node closes a `Connection: close` response's socket with destroySoon() once the
      // answer is written: linger there instead.
      socket.destroySoon = () => linger(req, socket, bounds);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

function linger(req: IncomingMessage, socket: Socket, bounds: LingerBounds): void {
  if (socket.destroyed) return;
  const start = Date.now();
  let dropped = 0;
  let lastByteAt = start;
  // Whatever the body was being piped into (an upstream request) gets no more of it.
  req.unpipe();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    lastByteAt = Date.now();
    if (dropped > bounds.maxBytes) socket.destroy();
  });
  req.resume();
  socket.end();
  let lastRead = socket.bytesRead;
  const check = setInterval(
    () => {
      const now = Date.now();
      // Bytes that are not body (a request pipelined behind this one) count as activity too.
      if (socket.bytesRead !== lastRead) {
        lastRead = socket.bytesRead;
        lastByteAt = now;
      }
      if (now - start >= bounds.timeMs || now - lastByteAt >= bounds.idleMs) socket.destroy();
    },
    Math.max(10, Math.min(250, bounds.idleMs / 4)),
  );
  check.unref();
  socket.once('close', () => clearInterval(check));
}
