/**
 * Decodes a response body framed with Transfer-Encoding: chunked, piece by piece as it
 * arrives from the member socket. body-splice.ts needs it for the answer to an upload: once
 * the body has gone out, the request cannot be handed to Node's client instead, and members
 * other than registry:2 (Node servers among them) answer a PATCH chunked.
 */

/** The longest chunk-size or trailer line accepted (a member sending more is out of step). */
const LINE_LIMIT = 4096;
const SIZE_LINE = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/;

export class ChunkedDecoder {
  private state: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  private line = '';
  private left = 0;

  /**
   * Take buf[from, to): `out` gets each run of body bytes as [start, end) of `buf`. Returns the
   * index just past the body's last byte when the body ended in this piece, else -1. Throws
   * on malformed framing.
   */
  feed(buf: Buffer, from: number, to: number, out: (start: number, end: number) => void): number {
    let i = from;
    while (i < to) {
      if (this.state === 'data') {
        const n = Math.min(this.left, to - i);
        out(i, i + n);
        i += n;
        this.left -= n;
        if (this.left === 0) this.state = 'data-end';
        continue;
      }
      const nl = buf.indexOf(10, i);
      const lineEnd = nl < 0 || nl >= to ? to : nl;
      this.line += buf.toString('latin1', i, lineEnd);
      if (this.line.length > LINE_LIMIT) throw new Error('chunked framing line too long');
      if (lineEnd === to) return -1;
      i = nl + 1;
      if (!this.line.endsWith('\r')) throw new Error('chunked framing line without CRLF');
      const text = this.line.slice(0, -1);
      this.line = '';
      if (this.state === 'data-end') {
        if (text !== '') throw new Error('chunk data longer than its size');
        this.state = 'size';
      } else if (this.state === 'size') {
        const m = SIZE_LINE.exec(text);
        if (!m) throw new Error('malformed chunk size');
        this.left = Number.parseInt(m[1]!, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
      } else if (text === '') return i; // the empty line after the trailer fields ends the body
    }
    return -1;
  }
}
