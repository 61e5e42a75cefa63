/**
 * The 256 KiB blocks a blob upload's body is read into, lent out and handed back once their
 * bytes are written. A block nobody hands back is simply collected. Without the hand-back every
 * 256 KiB of a push is a fresh allocation outside V8's heap, and V8 frees those only at a minor
 * collection, which a stream of them forces only once about 32 MiB are waiting (a fixed V8
 * limit, whatever the young generation's size): a push held ~33 MiB of spent blocks at its peak.
 */
export const BODY_BLOCK = 256 * 1024;
/**
 * Spare blocks kept for the next reads and uploads, per block size (a listener may read in
 * another size: ListenerOptions.bodyBlock): 2 MiB of 256 KiB blocks, 4 of 1 MiB.
 */
const spareLimit = (size: number) => Math.max(4, (2 << 20) / size);
const spare = new Map<number, Buffer[]>();
/** The memory of every block lent and not yet handed back: a block comes back at most once. */
const lent = new WeakSet<ArrayBufferLike>();

export function takeBodyBlock(size = BODY_BLOCK): Buffer {
  const block = spare.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
  lent.add(block.buffer);
  return block;
}

/**
 * Hand back a block (or any part of one) whose bytes nobody will read again: its write has
 * completed and every listener has seen it. Anything that is not a lent block is ignored.
 */
export function handBackBodyBlock(piece: Buffer): void {
  if (!lent.delete(piece.buffer)) return;
  const size = piece.buffer.byteLength;
  let list = spare.get(size);
  if (!list) {
    list = [];
    spare.set(size, list);
  }
  if (list.length < spareLimit(size)) list.push(Buffer.from(piece.buffer, 0, size));
}
