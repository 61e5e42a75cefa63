/**
 * A blob file read in 256 KiB blocks into buffers that are reused once the consumer says it
 * is done with them (recycle), instead of a fresh buffer per read: a 1 GiB blob GET otherwise
 * allocates 1 GiB of short-lived buffers, and the garbage collector pays for every one.
 * A consumer that never recycles just gets fresh buffers, like fs.createReadStream.
 */
import { close, open, read } from 'node:fs';
import { Readable } from 'node:stream';

const BLOCK = 256 * 1024;

export class FileBlocks extends Readable {
  private fd: number | null = null;
  private position: number;
  /** One past the last byte to read, or Infinity for the whole file. */
  private readonly end: number;
  private readonly own = new WeakSet<ArrayBufferLike>();
  private readonly free: Buffer[] = [];

  constructor(
    private readonly path: string,
    range?: { start: number; end: number },
  ) {
    super({ highWaterMark: BLOCK });
    this.position = range?.start ?? 0;
    this.end = range ? range.end + 1 : Number.POSITIVE_INFINITY;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'r', (err, fd) => {
      if (!err) this.fd = fd;
      cb(err);
    });
  }

  override _read(): void {
    const length = Math.min(BLOCK, this.end - this.position);
    if (length <= 0 || this.fd === null) {
      this.push(null);
      return;
    }
    const buf = this.nextBuffer();
    read(this.fd, buf, 0, length, this.position, (err, n) => {
      if (err) {
        this.destroy(err);
        return;
      }
      if (n === 0) {
        this.push(null);
        return;
      }
      this.position += n;
      this.push(buf.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.fd === null) {
      cb(err);
      return;
    }
    const fd = this.fd;
    this.fd = null;
    close(fd, () => cb(err));
  }

  /** The consumer has finished with this chunk (its socket write completed). */
  recycle(chunk: Buffer): void {
    if (this.own.has(chunk.buffer) && this.free.length < 2) this.free.push(Buffer.from(chunk.buffer, 0, BLOCK));
  }

  private nextBuffer(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    const b = Buffer.allocUnsafeSlow(BLOCK);
    this.own.add(b.buffer);
    return b;
  }
}
