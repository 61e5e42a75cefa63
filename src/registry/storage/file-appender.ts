/**
 * Writes a stream into an open file at an explicit position, one write per chunk, and tells
 * the producer when each chunk has reached the file (so a Coalescer can reuse that block).
 */
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export class FileAppender extends Writable {
  constructor(
    private readonly fh: FileHandle,
    private position: number,
    private readonly written?: (chunk: Buffer) => void,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.writeAll(chunk).then(() => {
      this.written?.(chunk);
      cb();
    }, cb);
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, this.position);
      off += bytesWritten;
      this.position += bytesWritten;
    }
  }
}
