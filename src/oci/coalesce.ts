/**
 * Request bodies arrive from a TLS socket in pieces of at most 16 KiB (one TLS record each),
 * and every piece handed on separately costs a hash call, a file or socket write and a trip
 * through the stream machinery: on a 1 GiB push that was most of the gateway's CPU beyond
 * decryption and SHA-256 themselves. This stream gathers the pieces into blocks and passes
 * each block on once. A block is passed on when it is full, when the body ends, and (so a
 * slow sender is never held back) as soon as no more bytes are waiting in this turn of the
 * event loop (unless told to hold them until full). Backpressure is the ordinary stream's:
 * the block buffer is bounded.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { handBackBodyBlock } from './body-blocks.js';

export class Coalescer extends Transform {
  /** Bytes that went through. */
  bytes = 0;
  private block: Buffer;
  private filled = 0;
  private scheduled: NodeJS.Immediate | null = null;
  /** Blocks this stream made, and those handed back by a consumer done with them (see recycle). */
  private readonly own = new WeakSet<ArrayBufferLike>();
  private readonly free: Buffer[] = [];

  constructor(
    private readonly blockSize = 1 << 20,
    /** Called with each block before it is passed on (for hashing). */
    private readonly onBlock?: (block: Buffer) => void,
    /**
     * Pass blocks on only when full (and at the end): for a file, where nothing downstream
     * waits on a slow sender. Otherwise a block also goes as soon as the event loop turn ends,
     * which on a fast link means blocks of one socket read (about 64 KiB), not the full size.
     */
    private readonly holdUntilFull = false,
  ) {
    super({ readableHighWaterMark: blockSize, writableHighWaterMark: blockSize });
    this.block = this.fresh();
  }

  /**
   * A consumer that knows it is done with a block (its write completed) hands it back, so a
   * long body reuses two blocks instead of allocating one per MiB (which made GC a sixth of a push).
   */
  recycle(block: Buffer): void {
    if (!this.own.has(block.buffer)) {
      // A block of the request body passed on whole (src/server/direct-body.ts) goes back to its lender.
      handBackBodyBlock(block);
      return;
    }
    if (this.free.length < 2) this.free.push(Buffer.from(block.buffer, 0, this.blockSize));
  }

  private fresh(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    const b = Buffer.allocUnsafeSlow(this.blockSize);
    this.own.add(b.buffer);
    return b;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      if (this.filled === 0 && chunk.length - off >= this.blockSize) {
        // A big chunk (plain-HTTP listener): pass it on as it is, no copy.
        const whole = off === 0 ? chunk : chunk.subarray(off);
        this.onBlock?.(whole);
        this.push(whole);
        break;
      }
      const n = chunk.copy(this.block, this.filled, off);
      this.filled += n;
      off += n;
      if (this.filled === this.blockSize) this.passOn();
    }
    if (this.filled > 0 && this.scheduled === null && !this.holdUntilFull)
      this.scheduled = setImmediate(() => this.passOn());
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.passOn();
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    cb(err);
  }

  private passOn(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    if (this.filled === 0 || this.destroyed) return;
    let out: Buffer;
    if (this.filled < this.blockSize / 4) {
      // A short block is copied out, so a trickling sender cannot pin a whole block per piece.
      out = Buffer.from(this.block.subarray(0, this.filled));
    } else {
      // The block now belongs downstream; the next one is fresh (a reused one could still be queued).
      out = this.block.subarray(0, this.filled);
      this.block = this.fresh();
    }
    this.filled = 0;
    this.onBlock?.(out);
    this.push(out);
  }
}
