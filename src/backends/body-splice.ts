/**
 * Blob GETs and HEADs to a plain-HTTP upstream member without Node's http client.
 *
 * Node's client reads the upstream socket into a fresh 64 KiB buffer per read, its parser
 * copies each body chunk into another new Buffer, and the chunk then passes through two
 * streams before it reaches the client's TLS socket: on a 1 GiB layer that was about a
 * quarter of the gateway's CPU (bench/README.md). Here the response head is parsed by hand,
 * and once its Content-Length is known the body goes from large reads into reused buffers
 * (net.Socket's `onread`) straight into the client response, with backpressure (reading
 * stops while the client is slow), the member's idle timeout, and the upstream request
 * aborted when the client goes away.
 *
 * HEADs (a client asking whether a manifest or blob exists, many per pull) take the same path:
 * Node's client spent about a third of the gateway's CPU per proxied HEAD building its request
 * object, agent bookkeeping, listeners and parser (bench/README.md); here a HEAD is one write of
 * the request head and one parse of the answer on a pooled connection.
 *
 * Only responses framed by Content-Length are spliced (distribution always sends it on blob
 * GETs). Anything else (chunked, close-delimited, 1xx) is declined before a byte reaches the
 * client, and the caller sends the (idempotent) GET again through the ordinary client.
 *
 * Upload bodies (PATCH/PUT/POST) go out on the same pooled connections through a SpliceBody
 * (upload-splice.ts); this file sends the head, then relays the member's answer as for a GET.
 */
import net from 'node:net';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ChunkedDecoder } from './chunked-decoder.js';

/** Upstream reads land in buffers of this size; a loopback socket often has this much ready. */
const READ_SIZE = 256 * 1024;
/** Buffers kept for reuse across all transfers (4 MiB at most). */
const SPARE_LIMIT = 16;
const HEAD_LIMIT = 64 * 1024;
/**
 * Idle keep-alive connections kept per member (like nginx's `keepalive 64`: with 8, a client
 * running 64 requests at once made the gateway open and close 56 connections per round), and
 * how long they may stay idle.
 */
const IDLE_PER_ORIGIN = 64;
const IDLE_KEEP_MS = 30_000;

const SPLICED_METHODS = new Set(['GET', 'HEAD', 'PATCH', 'PUT', 'POST']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const UNSAFE_IN_HEAD = /[\r\n\0]/;
/** Headers Node's own client keeps only once (first wins) when a response repeats them. */
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

const spare: Buffer[] = [];
function takeBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE);
}
function giveBack(buf: Buffer): void {
  if (buf.length === READ_SIZE && spare.length < SPARE_LIMIT) spare.push(buf);
}

export interface SpliceHead {
  statusCode: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
}

/** A request body sent after the head on the member connection (upload-splice.ts). */
export interface SpliceBody {
  /** Start sending the body to `socket`, right after the request head. */
  start(socket: net.Socket): void;
  /** Stop taking the client's body: the member answered, failed, or the client went away. */
  stop(): void;
  /** Every body byte and the closing framing went to the member socket. */
  readonly sent: boolean;
}

export interface SpliceRequest {
  /** The member's origin; must be http:. */
  url: URL;
  /** HEAD responses have no body whatever their Content-Length says. */
  method: string;
  /** The upload body, if any: such a request is never declined or sent twice once begun. */
  body?: SpliceBody;
  path: string;
  headers: OutgoingHttpHeaders;
  idleTimeoutMs: number;
  res: ServerResponse;
  /** Called once with the upstream's head, before any body byte is written to `res`. */
  onHead(head: SpliceHead): void;
}

/**
 * 'done': the response was relayed (or the client went away); 'declined': nothing was written
 * to the client and the request should go through the ordinary client. Rejects with the
 * socket error (code ETIMEDOUT for the idle timeout) if the upstream failed before its head
 * arrived; `headSent` on the error says whether the client had already been answered.
 */
export type SpliceOutcome = 'done' | 'declined';

/** Whether a request can take this path at all (checked before anything is sent). */
export function canSplice(url: URL, method: string | undefined, headers: OutgoingHttpHeaders): boolean {
  if (url.protocol !== 'http:' || !SPLICED_METHODS.has(method ?? '')) return false;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (!TOKEN.test(k) || UNSAFE_IN_HEAD.test(Array.isArray(v) ? v.join('') : String(v))) return false;
  }
  return true;
}

/** What happened to a member connection, for whoever holds it at the time. */
type ConnEvent = 'timeout' | 'error' | 'end' | 'close';

/**
 * A keep-alive connection to one member, reading through `onread` into reused buffers. Its
 * socket listeners and idle timer are set once for the connection's life and call whoever
 * holds it now (a request, or the idle pool): per-request listener and timer churn was a
 * visible share of a proxied HEAD.
 */
class Conn {
  readonly socket: net.Socket;
  /** Where the next read goes; replaced per request. Returns false to stop reading. */
  onData: (n: number, buf: Buffer) => boolean = destroyOnBytes;
  /** A socket event; while idle in the pool any of them ends the connection. */
  onEvent: (event: ConnEvent, err?: Error) => void = destroyOnEvent;
  reused = false;
  /** When it went back to the idle pool (ms). */
  idleSince = 0;

  constructor(
    url: URL,
    readonly origin: string,
    idleTimeoutMs: number,
  ) {
    this.socket = net.connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      noDelay: true,
      onread: {
        buffer: takeBuffer,
        callback: (n: number, buf: Uint8Array) => this.onData.call(this, n, buf as Buffer),
      },
    });
    // The idle timeout counts from the last byte either way, in a request or in the pool.
    this.socket.setTimeout(idleTimeoutMs);
    this.socket.on('timeout', () => this.onEvent.call(this, 'timeout'));
    this.socket.on('error', (err) => this.onEvent.call(this, 'error', err));
    this.socket.on('end', () => this.onEvent.call(this, 'end'));
    this.socket.on('close', () => this.onEvent.call(this, 'close'));
  }
}

/** Bytes while idle: the member is out of step; never reuse this connection. */
function destroyOnBytes(this: Conn): boolean {
  this.socket.destroy();
  return false;
}
function destroyOnEvent(this: Conn): void {
  this.socket.destroy();
}
function ignoreBytes(): boolean {
  return false;
}

/** Idle keep-alive connections by member origin; one per backend. */
export type SplicePool = Map<string, Conn[]>;

function checkout(idle: SplicePool, url: URL, idleTimeoutMs: number): Conn {
  const list = idle.get(url.origin);
  const now = Date.now();
  while (list?.length) {
    const conn = list.pop()!;
    if (!conn.socket.destroyed && now - conn.idleSince < IDLE_KEEP_MS) {
      conn.reused = true;
      return conn;
    }
    conn.socket.destroy();
  }
  return new Conn(url, url.origin, idleTimeoutMs);
}

function checkin(idle: SplicePool, conn: Conn): void {
  conn.onData = destroyOnBytes;
  conn.onEvent = destroyOnEvent;
  const list = idle.get(conn.origin) ?? [];
  idle.set(conn.origin, list);
  const now = Date.now();
  // The oldest sit at the front: drop those idle too long (the member may have closed them).
  while (list.length && (list[0]!.socket.destroyed || now - list[0]!.idleSince >= IDLE_KEEP_MS))
    list.shift()!.socket.destroy();
  if (list.length >= IDLE_PER_ORIGIN) {
    conn.socket.destroy();
    return;
  }
  conn.idleSince = now;
  list.push(conn);
}

/** Drop every idle connection (on shutdown). */
export function closeIdleSplices(idle: SplicePool): void {
  for (const list of idle.values()) for (const conn of list.splice(0)) conn.socket.destroy();
}

function serializeRequest(method: string, path: string, headers: OutgoingHttpHeaders): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) head += `${k}: ${one}\r\n`;
    else head += `${k}: ${v}\r\n`;
  }
  return `${head}\r\n`;
}

interface ParsedHead extends SpliceHead {
  /** Body length, or null when the response is not framed by Content-Length. */
  length: number | null;
  /** The body is framed by Transfer-Encoding: chunked (relayed for uploads only). */
  chunked: boolean;
  keepAlive: boolean;
}

function parseHead(text: string, bodiless: boolean): ParsedHead | null {
  const lines = text.split('\r\n');
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) return null;
  const statusCode = Number(m[2]);
  const headers: IncomingHttpHeaders = {};
  const lengths = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return null; // also rejects obs-fold continuation lines
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return null;
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') lengths.add(value);
    const prev = headers[name];
    if (prev === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (!SINGLE.has(name)) headers[name] = `${prev}, ${value}`;
  }
  let length: number | null = null;
  if (statusCode === 204 || statusCode === 304) length = 0;
  else if (headers['transfer-encoding'] === undefined && lengths.size === 1) {
    const only = [...lengths][0]!;
    if (/^\d{1,15}$/.test(only)) length = Number(only);
  }
  if (bodiless) length = 0;
  if (statusCode < 200) length = null;
  const chunked =
    length === null && statusCode >= 200 && String(headers['transfer-encoding']).toLowerCase() === 'chunked';
  const connection = String(headers.connection ?? '').toLowerCase();
  const keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { statusCode, statusMessage: m[3] ?? '', headers, length, chunked, keepAlive };
}

/** GET or HEAD `path` from the member and relay the response to `res`; see SpliceOutcome. */
export function spliceRead(idle: SplicePool, r: SpliceRequest): Promise<SpliceOutcome> {
  return attempt(idle, r, checkout(idle, r.url, r.idleTimeoutMs)).catch(
    (err: NodeJS.ErrnoException & { headSent?: boolean; reused?: boolean }) => {
      // A pooled connection the member closed just as it was reused: once more on a fresh one
      // (not an upload: its body is already being taken from the client).
      if (err.reused && !err.headSent && !r.body)
        return attempt(idle, r, new Conn(r.url, r.url.origin, r.idleTimeoutMs));
      throw err;
    },
  );
}

function attempt(idle: SplicePool, r: SpliceRequest, conn: Conn): Promise<SpliceOutcome> {
  const { res } = r;
  const socket = conn.socket;
  return new Promise<SpliceOutcome>((resolve, reject) => {
    let settled = false;
    let head: ParsedHead | null = null;
    let headBytes: Buffer[] = [];
    let headSize = 0;
    let remaining = 0;
    let paused = false;
    /** The member answered before the whole upload body went out: its request is unfinished. */
    let answeredEarly = false;

    const settle = (outcome: SpliceOutcome | Error) => {
      if (settled) return;
      settled = true;
      r.body?.stop();
      res.off('close', onClientClose);
      res.off('drain', onDrain);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const fail = (err: NodeJS.ErrnoException) => {
      if (settled) return;
      conn.onData = ignoreBytes;
      socket.destroy();
      if (head) {
        // The client already has the head: it can only learn of the failure by a cut connection.
        res.destroy();
        settle('done');
      } else settle(Object.assign(err, { headSent: false, reused: conn.reused && headSize === 0 }));
    };
    const finished = () => {
      res.end();
      if (head!.keepAlive && !answeredEarly) checkin(idle, conn);
      else socket.destroy();
      settle('done');
    };
    /** The client has its whole answer but the member sent more: end it, never reuse the connection. */
    const endOutOfStep = (): false => {
      res.end();
      conn.onData = ignoreBytes;
      socket.destroy();
      settle('done');
      return false;
    };
    const onClientClose = () => {
      if (settled) return;
      conn.onData = ignoreBytes;
      socket.destroy();
      settle('done');
    };
    const onDrain = () => {
      if (!paused || settled) return;
      paused = false;
      socket.resume();
    };

    /** Relay body bytes buf[from, to); returns false when reading should stop for now. */
    const relay = (buf: Buffer, from: number, to: number): boolean => {
      const n = Math.min(to - from, remaining);
      if (n <= 0) {
        giveBack(buf);
        return true;
      }
      remaining -= n;
      const more = res.write(buf.subarray(from, from + n), () => giveBack(buf));
      if (to - from > n) {
        // Bytes past the declared length: the member is out of step. The client got its
        // whole body; this connection is not reused.
        return endOutOfStep();
      }
      if (remaining === 0) {
        finished();
        return true;
      }
      if (!more) {
        paused = true;
        res.once('drain', onDrain);
      }
      return more;
    };

    /** Not Content-Length framed: hand back before the client has seen anything. */
    const decline = (buf: Buffer): boolean => {
      giveBack(buf);
      conn.onData = ignoreBytes;
      socket.destroy();
      settle('declined');
      return false;
    };

    let decoder: ChunkedDecoder | null = null;
    /** Relay a chunked body's bytes (copied: they are few) from buf[from, to). */
    const relayChunked = (buf: Buffer, from: number, to: number): boolean => {
      let more = true;
      let end: number;
      try {
        end = decoder!.feed(buf, from, to, (a, b) => {
          more = res.write(Buffer.from(buf.subarray(a, b))) && more;
        });
      } catch (err) {
        giveBack(buf);
        fail(Object.assign(err as Error, { code: 'EPROTO' }));
        return false;
      }
      giveBack(buf);
      if (end < 0) {
        if (!more) {
          paused = true;
          res.once('drain', onDrain);
        }
        return more;
      }
      if (end < to) {
        // Bytes after the body: the client has its answer; the connection is not reused.
        return endOutOfStep();
      }
      finished();
      return true;
    };

    const onHeadBytes = (n: number, buf: Buffer): boolean => {
      // The head usually arrives whole in the first read: search it in place; only a head
      // split across reads is collected (copied, it is small) until its end shows up.
      const first = headBytes.length === 0;
      const scanFrom = Math.max(0, headSize - 3);
      if (!first) headBytes.push(Buffer.from(buf.subarray(0, n)));
      headSize += n;
      const all = first ? buf.subarray(0, n) : Buffer.concat(headBytes, headSize);
      const end = all.indexOf('\r\n\r\n', scanFrom, 'latin1');
      if (end < 0) {
        if (first) headBytes.push(Buffer.from(all));
        giveBack(buf);
        if (headSize > HEAD_LIMIT)
          fail(Object.assign(new Error('upstream response head too large'), { code: 'EPROTO' }));
        return true;
      }
      const parsed = parseHead(all.toString('latin1', 0, end), r.method === 'HEAD');
      if (!parsed) {
        giveBack(buf);
        fail(Object.assign(new Error('malformed upstream response head'), { code: 'EPROTO' }));
        return false;
      }
      if (r.body && parsed.statusCode < 200 && parsed.statusCode !== 101) {
        // An interim answer (100 Continue unasked): the real one follows.
        const rest = Buffer.from(all.subarray(end + 4));
        giveBack(buf);
        headBytes = [];
        headSize = 0;
        return rest.length ? onHeadBytes(rest.length, rest) : true;
      }
      if (parsed.length === null && !(r.body && parsed.chunked)) {
        // An upload cannot be sent again through the other path: the member's answer is an error.
        if (!r.body) return decline(buf);
        giveBack(buf);
        fail(Object.assign(new Error('upstream answered an upload without Content-Length'), { code: 'EPROTO' }));
        return false;
      }
      head = parsed;
      headBytes = [];
      if (r.body && !r.body.sent) {
        // An early answer (a refusal before the body ended): relay it, take no more of the
        // body, and never reuse this connection.
        answeredEarly = true;
        r.body.stop();
      }
      if (parsed.length === null) {
        // A chunked answer to an upload (registry:2 sends Content-Length; Node members do not).
        decoder = new ChunkedDecoder();
        r.onHead(parsed);
        conn.onData = (m, b) => relayChunked(b, 0, m);
        if (first) return relayChunked(buf, end + 4, n);
        giveBack(buf);
        const extra = Buffer.from(all.subarray(end + 4));
        return relayChunked(extra, 0, extra.length);
      }
      remaining = parsed.length;
      r.onHead(parsed);
      conn.onData = (m, b) => relay(b, 0, m);
      if (remaining === 0) {
        giveBack(buf);
        if (all.length > end + 4) {
          // Bytes after a bodiless response: answered, but the connection is not reused.
          return endOutOfStep();
        }
        finished();
        return true;
      }
      if (first) return relay(buf, end + 4, n);
      giveBack(buf);
      const extra = Buffer.from(all.subarray(end + 4));
      return relay(extra, 0, extra.length);
    };

    conn.onData = onHeadBytes;
    conn.onEvent = (event, err) => {
      if (settled) return;
      if (event === 'error') fail(err!);
      else if (event === 'timeout') fail(Object.assign(new Error('upstream idle timeout'), { code: 'ETIMEDOUT' }));
      else
        fail(
          Object.assign(new Error(`upstream connection ${event === 'end' ? 'ended' : 'closed'}`), {
            code: 'ECONNRESET',
          }),
        );
    };
    res.on('close', onClientClose);
    socket.write(serializeRequest(r.method, r.path, r.headers), 'latin1');
    r.body?.start(socket);
  });
}
