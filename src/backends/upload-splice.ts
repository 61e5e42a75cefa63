/**
 * Blob upload bodies to a plain-HTTP upstream member without Node's http client: the upload
 * side of body-splice.ts, which writes the request head on a pooled keep-alive connection and
 * relays the member's answer.
 *
 * Through Node's client a pushed layer went client request → block stream → ClientRequest
 * (chunk framing, its own write queue) → socket. Here the client's body pieces (at most 16 KiB,
 * one TLS record each) are gathered into 256 KiB blocks that already hold their chunk framing,
 * and each block is one write to the member socket, reused once the socket has taken it. The
 * client's request is paused while the member socket's buffer is full, so nothing piles up.
 *
 * A chunked body (docker and skopeo PATCH that way) goes out chunked, re-framed in whole
 * blocks; a body with a Content-Length goes out as is under the same length. Anything else
 * (another transfer coding) is left to Node's client before a byte is sent.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type net from 'node:net';
import type { SpliceBody } from './body-splice.js';
import { handBackBodyBlock } from '../oci/body-blocks.js';

/** Body bytes per write to the member. */
const BLOCK = 256 * 1024;
/**
 * Room kept before a block's bytes for its chunk-size line, written at a fixed width
 * ("0003ffff\r\n": leading zeros are valid chunk-size digits), and after them for the CRLF
 * that ends the chunk, so a chunked block is still one write.
 */
const FRONT = 10;
const BACK = 2;
/** Blocks kept for reuse across uploads (2 MiB at most). */
const SPARE_LIMIT = 8;
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

const spare: Buffer[] = [];
function takeBlock(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(FRONT + BLOCK + BACK);
}
function giveBlock(block: Buffer): void {
  if (spare.length < SPARE_LIMIT) spare.push(block);
}

/**
 * The member's request headers for this body, or undefined when it should go through Node's
 * client: a transfer coding other than chunked alone, or a Content-Length that is not a number.
 */
export function uploadHeaders(req: IncomingMessage, headers: OutgoingHttpHeaders): OutgoingHttpHeaders | undefined {
  const coding = req.headers['transfer-encoding'];
  if (coding === undefined) return /^\d+$/.test(req.headers['content-length'] ?? '') ? headers : undefined;
  if (coding.trim().toLowerCase() !== 'chunked') return undefined;
  const out = { ...headers, 'transfer-encoding': 'chunked' };
  delete out['content-length'];
  return out;
}

export class UploadBody implements SpliceBody {
  sent = false;
  private socket: net.Socket | null = null;
  private block: Buffer | null = null;
  private filled = 0;
  private flushing: NodeJS.Immediate | null = null;
  private waitingForDrain = false;
  private stopped = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly chunked: boolean,
  ) {}

  start(socket: net.Socket): void {
    this.socket = socket;
    this.block = takeBlock();
    this.req.on('data', this.onData);
    this.req.on('end', this.onEnd);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.socket?.off('drain', this.onDrain);
    // Like an unpiped stream: the rest of an unfinished body stays unread (the client has its answer).
    if (!this.sent) this.req.pause();
    if (this.block) giveBlock(this.block);
    this.block = null;
  }

  private readonly onData = (piece: Buffer): void => {
    // A whole block as the gateway's listener reads it (src/server/direct-body.ts) goes out as
    // it is, between its chunk-size line and CRLF in one gathered write: no copy.
    if (this.filled === 0 && piece.length >= BLOCK) {
      this.passWhole(piece);
      return;
    }
    let off = 0;
    while (off < piece.length) {
      const n = Math.min(piece.length - off, BLOCK - this.filled);
      piece.copy(this.block!, FRONT + this.filled, off, off + n);
      this.filled += n;
      off += n;
      if (this.filled === BLOCK) this.passOn();
    }
    // Copied out: a body block read off the socket (src/server/direct-body.ts) can be read into again.
    handBackBodyBlock(piece);
    // A slow sender is never held back: what came in this turn goes out when the turn ends.
    if (this.filled > 0 && this.flushing === null) this.flushing = setImmediate(this.flush);
  };

  private readonly flush = (): void => {
    this.flushing = null;
    // While the member socket still holds earlier bytes, a partial block waits to fill (or for
    // 'drain'): fewer, fuller writes when the member is the slower side.
    if (!this.waitingForDrain) this.passOn();
  };

  private readonly onEnd = (): void => {
    this.passOn();
    if (this.stopped) return;
    if (this.chunked) this.socket!.write(LAST_CHUNK);
    this.sent = true;
  };

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    if (this.stopped) return;
    if (this.filled > 0 && this.flushing === null) this.flushing = setImmediate(this.flush);
    this.req.resume();
  };

  private passWhole(piece: Buffer): void {
    if (this.stopped) return;
    const socket = this.socket!;
    // The block is read into again (body-blocks.ts) only once the socket has taken its bytes.
    const taken = () => handBackBodyBlock(piece);
    let ok: boolean;
    if (this.chunked) {
      socket.cork();
      socket.write(`${piece.length.toString(16)}\r\n`, 'latin1');
      socket.write(piece, taken);
      ok = socket.write(CRLF);
      socket.uncork();
    } else ok = socket.write(piece, taken);
    if (!ok) this.waitForDrain();
  }

  private waitForDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.req.pause();
    this.socket!.once('drain', this.onDrain);
  }

  /** Write the gathered bytes as one block; the block is reused once the socket has taken it. */
  private passOn(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    const n = this.filled;
    if (n === 0 || this.stopped) return;
    const block = this.block!;
    let out: Buffer;
    if (this.chunked) {
      block.write(`${n.toString(16).padStart(8, '0')}\r\n`, 0, 'latin1');
      block[FRONT + n] = 13;
      block[FRONT + n + 1] = 10;
      out = block.subarray(0, FRONT + n + BACK);
    } else out = block.subarray(FRONT, FRONT + n);
    this.block = takeBlock();
    this.filled = 0;
    if (!this.socket!.write(out, () => giveBlock(block))) this.waitForDrain();
  }
}
