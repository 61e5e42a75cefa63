// The block gatherer under uploads (src/oci/coalesce.ts): what goes in comes out byte for
// byte in big blocks, a slow sender's bytes are not held back, and reused blocks never
// overwrite data a consumer has not finished with.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Coalescer } from '../../src/oci/coalesce.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('16 KiB pieces come out as 1 MiB blocks with the same bytes and the same hash', async (t) => {
  const input = randomBytes((5 << 20) + 12345);
  const hash = createHash('sha256');
  const c = new Coalescer(1 << 20, (b) => hash.update(b));
  const sizes: number[] = [];
  const out: Buffer[] = [];
  const done = pipeline(
    c,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        sizes.push(chunk.length);
        out.push(Buffer.from(chunk)); // a copy: the block goes back for reuse below
        setImmediate(() => {
          c.recycle(chunk);
          cb();
        });
      },
    }),
  );
  // written in one go, so no turn of the event loop passes between pieces
  for (let off = 0; off < input.length; off += 16384) c.write(input.subarray(off, off + 16384));
  c.end();
  await done;
  t.equal(sha(Buffer.concat(out)), sha(input), 'same bytes, in order');
  t.equal(hash.digest('hex'), sha(input), 'the hash saw every byte once');
  t.equal(sizes.filter((n) => n === 1 << 20).length, 5, 'five full blocks');
  t.equal(c.bytes, input.length);
});

t.test('a consumer that keeps blocks (does not recycle) never sees them overwritten', async (t) => {
  const input = randomBytes(4 << 20);
  const c = new Coalescer(256 * 1024);
  const kept: Buffer[] = [];
  const done = pipeline(
    c,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        kept.push(chunk); // no copy
        cb();
      },
    }),
  );
  for (let off = 0; off < input.length; off += 16384) c.write(input.subarray(off, off + 16384));
  c.end();
  await done;
  t.equal(sha(Buffer.concat(kept)), sha(input));
});

t.test('a trickling sender: each piece is passed on in the same turn, not held for a full block', async (t) => {
  const c = new Coalescer(1 << 20);
  const seen: number[] = [];
  c.on('data', (b: Buffer) => seen.push(b.length));
  for (let i = 0; i < 3; i++) {
    c.write(Buffer.alloc(1000, i));
    await new Promise((r) => setTimeout(r, 20));
    t.equal(seen.length, i + 1, `piece ${i + 1} passed on without waiting for more`);
  }
  c.end();
  t.same(seen, [1000, 1000, 1000]);
});

t.test('held until full (for files): pieces wait for a whole block, the rest comes at the end', async (t) => {
  const c = new Coalescer(64 * 1024, undefined, true);
  const seen: number[] = [];
  c.on('data', (b: Buffer) => seen.push(b.length));
  for (let i = 0; i < 5; i++) {
    c.write(Buffer.alloc(16 * 1024, i));
    await new Promise((r) => setTimeout(r, 5));
  }
  t.same(seen, [64 * 1024], 'one full block so far');
  c.end();
  await new Promise((r) => c.on('end', r));
  t.same(seen, [64 * 1024, 16 * 1024]);
});
