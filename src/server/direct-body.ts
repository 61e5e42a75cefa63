/**
 * Blob upload bodies read straight off the client socket, past Node's HTTP parser.
 *
 * Through Node's server every body piece (at most 16 KiB, one TLS record) is copied by the
 * parser into a fresh Buffer, handed to JavaScript in its own callback, pushed through the
 * request stream and emitted as its own 'data' event; a 1 GiB push makes 65,536 of each, and
 * the young generation collects the pieces. Here, for a blob upload (PATCH, PUT or POST to
 * /v2/<name>/blobs/uploads/ with a body), the parser stops at the end of the request head and
 * the socket's reads land directly in 256 KiB blocks (1 MiB when the embedded core writes the
 * body to a file: src/oci/body-blocks.ts) through the `onread` mechanism of net.Socket
 * (one reused target buffer, no allocation per read). Each full block is pushed into the
 * request stream, so everything downstream (body counting, the upstream splice, the embedded
 * core's writer, lingering close) sees an ordinary request whose pieces are whole blocks.
 *
 * What Node's server still does: the head, `Expect: 100-continue`, the response, keep-alive,
 * timeouts (every read refreshes the socket's idle timer), and aborts (a client that goes
 * away mid-body closes the socket, and Node aborts the unfinished request as before). Once
 * the body's last byte is read the parser takes the socket back for the next request; bytes
 * read past the body (a pipelined request) go to the parser first.
 *
 * The hooks are Node 20 internals (the parser's callbacks, `consume`/`unconsume`, the socket's
 * `onread` symbols). When any of them is missing the server is left as it was.
 */
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import { createRequire } from 'node:module';
import { ChunkedDecoder } from '../backends/chunked-decoder.js';
import { BODY_BLOCK, takeBodyBlock, handBackBodyBlock } from '../oci/body-blocks.js';

/**
 * Where a read lands when no body is being taken (between uploads on a keep-alive socket,
 * before the first block is chosen). A read into it is copied out before the next one can
 * happen, so one buffer serves every socket.
 */
const PARKED = Buffer.allocUnsafeSlow(64 * 1024);
/** Most bytes read and dropped after a framing error before the connection is cut. */
const DROP_LIMIT = 64 << 20;

interface Parser {
  _consumed: boolean;
  onIncoming: (req: http.IncomingMessage, keepAlive: boolean) => number;
  getCurrentBuffer(): Buffer;
  execute(data: Buffer): number | Error;
  consume(handle: unknown): void;
  unconsume(): void;
  [key: number]: unknown;
}
interface StreamHandle {
  isStreamBase?: boolean;
  reading: boolean;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Buffer): void;
}
type ReadCallback = (nread: number, buf: Buffer) => boolean;
type HookedSocket = net.Socket & {
  parser?: Parser | null;
  _handle?: StreamHandle | null;
  _paused?: boolean;
  [DIRECT]?: DirectBody | null;
  [key: symbol]: unknown;
};

const DIRECT = Symbol('portcullis.directBody');
/** Bytes being handed back to a parser by handBack(), while it parses them. */
let handingBack: Buffer | null = null;
const SKIP_COMPLETE = Symbol('portcullis.skipMessageComplete');

/** Node's own pieces this needs, found once; undefined when this Node does not have them. */
const internals = (() => {
  try {
    const { HTTPParser, isLenient } = createRequire(import.meta.url)('_http_common') as {
      HTTPParser: {
        REQUEST: number;
        kOnExecute?: number;
        kOnMessageComplete?: number;
        kOnHeaders?: number;
        kOnHeadersComplete?: number;
        kLenientNone?: number;
        kLenientAll?: number;
      };
      isLenient?: () => boolean;
    };
    // The symbols behind net.Socket's `onread` option, read off a socket made with it.
    const probe = new net.Socket({
      onread: { buffer: Buffer.alloc(1), callback: () => true },
    } as net.SocketConstructorOpts);
    const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
    probe.destroy();
    const kBuffer = byName.get('kBuffer');
    const kBufferCb = byName.get('kBufferCb');
    const kBufferGen = byName.get('kBufferGen');
    const { REQUEST, kOnExecute, kOnMessageComplete, kOnHeaders, kOnHeadersComplete, kLenientNone, kLenientAll } =
      HTTPParser;
    const callbacks = [kOnExecute, kOnMessageComplete, kOnHeaders, kOnHeadersComplete, kLenientNone, kLenientAll];
    if (!kBuffer || !kBufferCb || !kBufferGen || callbacks.some((c) => typeof c !== 'number')) return undefined;
    if (typeof isLenient !== 'function') return undefined;
    return {
      kBuffer,
      kBufferCb,
      kBufferGen,
      REQUEST,
      kOnExecute: kOnExecute!,
      kOnMessageComplete: kOnMessageComplete!,
      kOnHeaders: kOnHeaders!,
      kOnHeadersComplete: kOnHeadersComplete!,
      kLenientNone: kLenientNone!,
      kLenientAll: kLenientAll!,
      isLenient,
    };
  } catch {
    return undefined;
  }
})();

/** A blob upload with a body this reader can frame: chunked alone, or a positive length. */
export function directBodyFraming(req: http.IncomingMessage): 'chunked' | number | undefined {
  const m = req.method;
  if (m !== 'PATCH' && m !== 'PUT' && m !== 'POST') return undefined;
  if (!/^\/v2\/.+\/blobs\/uploads\//.test(req.url ?? '')) return undefined;
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined) return coding.trim().toLowerCase() === 'chunked' ? 'chunked' : undefined;
  const len = req.headers['content-length'];
  if (len === undefined || !/^\d{1,15}$/.test(len)) return undefined;
  return Number(len) > 0 ? Number(len) : undefined;
}

/** Read blob upload bodies off the socket on every connection of `server`. Returns false when Node cannot. */
export function readUploadBodiesDirectly(server: http.Server | https.Server, blockSize = BODY_BLOCK): boolean {
  if (!internals) return false;
  const event = 'setSecureContext' in server ? 'secureConnection' : 'connection';
  // Registered after Node's own connection listener, which has given the socket its parser.
  server.on(event, (socket: HookedSocket) => {
    // The server's list of connections (for its header timeout and closeIdleConnections), made on listen().
    const list = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections');
    const connections = list && (server as unknown as Record<symbol, unknown>)[list];
    if (connections) hookConnection(socket, server, connections, blockSize);
  });
  return true;
}

function hookConnection(
  socket: HookedSocket,
  server: http.Server | https.Server,
  connections: unknown,
  blockSize: number,
): void {
  const k = internals!;
  const parser = socket.parser;
  if (!parser || typeof parser.onIncoming !== 'function' || typeof parser[k.kOnExecute] !== 'function') return;
  if (!parser._consumed || !socket._handle?.isStreamBase) return;
  // Parsers are pooled across connections; the message-complete callback is set once per parser.
  const p = parser as Parser & { [SKIP_COMPLETE]?: boolean | undefined };
  if (p[SKIP_COMPLETE] === undefined) {
    const complete = parser[k.kOnMessageComplete] as (this: Parser) => void;
    parser[k.kOnMessageComplete] = function (this: Parser & { [SKIP_COMPLETE]?: boolean }) {
      // The head of a body taken here ends the parser's message: the request is not complete yet.
      if (this[SKIP_COMPLETE]) {
        this[SKIP_COMPLETE] = false;
        return;
      }
      complete.call(this);
    };
    p[SKIP_COMPLETE] = false;
  }

  let pending: { req: http.IncomingMessage; framing: 'chunked' | number } | null = null;
  const incoming = parser.onIncoming;
  parser.onIncoming = (req, keepAlive) => {
    const framing = parser._consumed && !socket._paused ? directBodyFraming(req) : undefined;
    const r = incoming(req, keepAlive);
    // (A handler that put a 'data' listener on the socket has made Node unconsume it.)
    if (r !== 0 || framing === undefined || socket.destroyed || !parser._consumed) return r;
    pending = { req, framing };
    p[SKIP_COMPLETE] = true;
    // "Upgrade": the parser stops at the end of the head and leaves the rest of the read to us.
    return 2;
  };
  const executed = parser[k.kOnExecute] as (ret: number | Error) => void;
  parser[k.kOnExecute] = (ret: number | Error) => {
    const take = pending;
    pending = null;
    p[SKIP_COMPLETE] = false;
    const rest = take && typeof ret === 'number' ? (handingBack ?? parser.getCurrentBuffer()).subarray(ret) : undefined;
    executed(ret);
    if (take && rest && !socket.destroyed)
      new DirectBody(socket, parser, take.req, take.framing, blockSize, () =>
        resetParser(parser, socket, server, connections),
      ).start(rest);
  };
}

class DirectBody {
  private block: Buffer;
  private filled = 0;
  /** Body bytes still to come (Content-Length), or the decoder (chunked). */
  private left: number;
  private readonly chunks: ChunkedDecoder | null;
  private done = false;
  /** Bytes dropped after a framing error, or -1 while the body is read. */
  private dropped = -1;

  constructor(
    private readonly socket: HookedSocket,
    private readonly parser: Parser,
    private readonly req: http.IncomingMessage,
    framing: 'chunked' | number,
    /** Bytes per block pushed into the request. */
    private readonly size: number,
    private readonly resetParser: () => void,
  ) {
    this.block = takeBodyBlock(size);
    this.chunks = framing === 'chunked' ? new ChunkedDecoder() : null;
    this.left = framing === 'chunked' ? Number.POSITIVE_INFINITY : framing;
  }

  start(first: Buffer): void {
    const k = internals!;
    const socket = this.socket;
    const handle = socket._handle!;
    this.parser.unconsume();
    this.parser._consumed = false;
    socket[DIRECT] = this;
    if (socket[k.kBufferCb] === undefined || socket[k.kBufferCb] === null) {
      // First upload on this socket: from now on its reads (while the parser does not consume
      // them) go to a target buffer we choose, handed back after each read.
      socket[k.kBuffer] = PARKED;
      socket[k.kBufferGen] = () => socket[DIRECT]?.target() ?? PARKED;
      socket[k.kBufferCb] = ((nread, buf) =>
        socket[DIRECT]?.read(nread, buf) ?? parkedRead(socket, nread)) as ReadCallback;
      handle.useUserBuffer(PARKED);
    }
    this.req._read = () => this.resume();
    socket.once('close', this.onClose);
    // The socket is being read (the parser was consuming it): stop if the request is full.
    if (!this.take(first, 0, first.length) && !this.done && handle.reading) {
      handle.reading = false;
      handle.readStop();
    }
  }

  /** Where the next read lands: the rest of the block, never past the body's declared length. */
  target(): Buffer {
    if (this.dropped >= 0) return PARKED;
    const room = this.size - this.filled;
    return this.block.subarray(this.filled, this.filled + Math.min(room, this.left));
  }

  /** A read of `nread` bytes into `buf` (the last target, or the parked buffer). */
  read(nread: number, buf: Buffer): boolean {
    if (this.dropped >= 0) return this.drop(nread);
    if (buf === PARKED || buf.buffer !== this.block.buffer) return this.take(buf, 0, nread);
    const from = this.filled;
    if (this.chunks) return this.decode(from, from + nread);
    this.filled += nread;
    this.left -= nread;
    return this.advance();
  }

  /** Bytes that arrived somewhere else (the parser's last read, the parked buffer): copied in. */
  private take(buf: Buffer, from: number, to: number): boolean {
    let more = true;
    while (from < to && !this.done) {
      const n = Math.min(to - from, this.size - this.filled, this.left);
      buf.copy(this.block, this.filled, from, from + n);
      from += n;
      if (this.chunks) {
        // What follows the body's end in `buf` goes back to the parser from decode().
        more = this.decode(this.filled, this.filled + n, buf, from, to) && more;
        if (this.done) return more;
      } else {
        this.filled += n;
        this.left -= n;
        more = this.advance() && more;
      }
    }
    if (from < to && this.done) this.handBack(buf.subarray(from, to));
    return more;
  }

  /**
   * Raw chunked bytes at block[start, end): the chunk data is moved down over the framing.
   * `src` (with [srcFrom, srcTo)) is where they were copied from, for what follows the body.
   */
  private decode(start: number, end: number, src?: Buffer, srcFrom = 0, srcTo = 0): boolean {
    let w = start;
    let ended: number;
    try {
      ended = this.chunks!.feed(this.block, start, end, (s, e) => {
        if (s !== w) this.block.copyWithin(w, s, e);
        w += e - s;
      });
    } catch (e) {
      this.fail(e as Error);
      return true;
    }
    this.filled = w;
    if (ended < 0) return this.advance();
    // The body ended inside this read: what follows it belongs to the next request.
    const after = this.block.subarray(ended, end);
    const rest = src ? Buffer.concat([after, src.subarray(srcFrom, srcTo)]) : Buffer.from(after);
    this.left = 0;
    this.advance();
    if (rest.length > 0) this.handBack(rest);
    return true;
  }

  /** Push a full block (or the last one); finish when the body is complete. */
  private advance(): boolean {
    let more = true;
    if (this.filled === this.size || (this.left === 0 && this.filled > 0)) {
      const full = this.filled === this.size ? this.block : this.block.subarray(0, this.filled);
      this.block = takeBodyBlock(this.size);
      this.filled = 0;
      more = this.req.push(full);
    }
    if (this.left === 0) this.finish();
    return more || this.done;
  }

  private resume(): void {
    const r = this.req as http.IncomingMessage & { _consuming?: boolean };
    r._consuming = true;
    const handle = this.socket._handle;
    if (this.done || !handle || this.socket._paused || handle.reading) return;
    handle.reading = true;
    handle.readStart();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    // The block the next read would have used was never handed to anyone.
    if (this.filled === 0) handBackBodyBlock(this.block);
    this.socket.off('close', this.onClose);
    this.socket[DIRECT] = null;
    this.req.complete = true;
    this.req.push(null);
    // The parser takes the socket back, reset for the next request.
    if (!this.socket.destroyed && this.socket._handle) {
      this.resetParser();
      this.parser.consume(this.socket._handle);
      this.parser._consumed = true;
    }
  }

  /** Bytes read past the body: the parser gets them as if it had read them itself. */
  private handBack(rest: Buffer): void {
    if (this.socket.destroyed || !this.parser._consumed) return;
    // (The parser's "current buffer" is only kept for its own reads.)
    handingBack = rest;
    try {
      const ret = this.parser.execute(rest);
      (this.parser[internals!.kOnExecute] as (r: number | Error) => void)(ret);
    } finally {
      handingBack = null;
    }
  }

  /** Malformed chunked framing: the client gets Node's answer to a parse error (clientError). */
  private fail(err: Error): void {
    this.done = true;
    this.dropped = 0;
    const e = Object.assign(err, { code: 'HPE_INVALID_CHUNK_SIZE' });
    const server = (this.socket as net.Socket & { server?: net.Server }).server;
    if (!server?.emit('clientError', e, this.socket)) this.socket.destroy(e);
    // What the client still sends after its answer is read and dropped (closing with unread
    // bytes would reset the connection and lose the answer), up to a bound; the client's end
    // then closes the socket and Node aborts the request.
  }

  private drop(nread: number): boolean {
    this.dropped += nread;
    if (this.dropped > DROP_LIMIT) this.socket.destroy();
    return true;
  }

  private readonly onClose = (): void => {
    this.done = true;
    this.dropped = -1;
    this.socket[DIRECT] = null;
  };
}

const IDLE_HEAD = Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1');
const muted = () => 0;

/**
 * The parser as after a message on a keep-alive connection. Its "upgrade" would otherwise stay
 * set, and an upgraded parser reports no errors (a malformed next request would pass). A fresh
 * parser is "active" in the server's connection list (its header timeout running) until a
 * message completes, so one short head goes through it with the callbacks muted: that leaves
 * it idle, waiting for the next request under the keep-alive timeout like any other.
 */
function resetParser(
  parser: Parser,
  socket: net.Socket,
  server: http.Server | https.Server,
  connections: unknown,
): void {
  const k = internals!;
  const lenient = (server as { insecureHTTPParser?: boolean }).insecureHTTPParser ?? k.isLenient();
  const p = parser as unknown as {
    remove(): void;
    initialize(type: number, resource: object, maxHeaderSize: number, lenient: number, list: unknown): void;
  };
  p.remove();
  p.initialize(
    k.REQUEST,
    { type: 'HTTPINCOMINGMESSAGE', socket },
    (server as { maxHeaderSize?: number }).maxHeaderSize || 0,
    lenient ? k.kLenientAll : k.kLenientNone,
    connections,
  );
  const saved = [k.kOnHeaders, k.kOnHeadersComplete, k.kOnMessageComplete].map((i) => parser[i]);
  parser[k.kOnHeaders] = muted;
  parser[k.kOnHeadersComplete] = muted;
  parser[k.kOnMessageComplete] = muted;
  try {
    parser.execute(IDLE_HEAD);
  } finally {
    [parser[k.kOnHeaders], parser[k.kOnHeadersComplete], parser[k.kOnMessageComplete]] = saved;
  }
}

/** A read while no body is taken and the parser does not consume the socket: the socket's own stream gets it. */
function parkedRead(socket: net.Socket, nread: number): boolean {
  return socket.push(Buffer.from(PARKED.subarray(0, nread)));
}
