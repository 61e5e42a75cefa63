/**
 * Writes a stream into an open file at an explicit position and tells the producer when each
 * chunk has reached the file (so its block can be read into again).
 *
 * The writes go through fs's callback functions on the handle's descriptor, not the
 * FileHandle's promises, which allocate a request with its own stats array, a promise and an
 * async continuation per call. A chunk goes to the file in writes of at most 256 KiB: larger
 * single writes (one 1 MiB pwrite, or a writev of four 256 KiB blocks) spent several times more
 * kernel time copying into the page cache on this machine's ext4 than 256 KiB ones
 * (bench/README.md), more than the fewer thread-pool round trips saved.
 */
import { write } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { FILE_BODY_BLOCK } from '../../oci/body-blocks.js';

/** Most bytes per write call. */
const MAX_WRITE = 256 * 1024;

type Callback = (error?: Error | null) => void;

export class FileAppender extends Writable {
  private readonly fd: number;

  constructor(
    fh: FileHandle,
    private position: number,
    private readonly written?: (chunk: Buffer) => void,
  ) {
    // One body block queued behind the one being written.
    super({ highWaterMark: FILE_BODY_BLOCK });
    this.fd = fh.fd;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Callback): void {
    this.writeFrom(chunk, 0, cb);
  }

  /** Write `chunk` from byte `off` on; a short write continues where it stopped. */
  private writeFrom(chunk: Buffer, off: number, cb: Callback): void {
    write(this.fd, chunk, off, Math.min(chunk.length - off, MAX_WRITE), this.position, (err, n) => {
      if (err) return cb(err);
      this.position += n;
      if (off + n < chunk.length) return this.writeFrom(chunk, off + n, cb);
      this.written?.(chunk);
      cb();
    });
  }
}
