/**
 * The embedded core's upload writer (src/registry/storage/file-appender.ts) on a real file: what
 * a push relies on is that every chunk lands at its place after the session's existing bytes,
 * in order, also when chunks queue up behind a write in flight and go to the file together;
 * that a chunk is reported written (and its block read into again) only once its bytes are in
 * the file; and that a failing write fails the upload instead of hanging it.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileAppender } from '../../src/registry/storage/file-appender.js';
import { removeDir, tempDir } from '../helpers/processes.js';

const dir = await tempDir('portcullis-appender-');
t.teardown(() => removeDir(dir));

t.test('chunks land after the existing bytes, in order, each reported once it is in the file', async (t) => {
  const file = join(dir, 'data');
  const before = randomBytes(1000);
  writeFileSync(file, before);
  // Sizes that line up with nothing; pushed all at once, so most queue behind the first write.
  const chunks = Array.from({ length: 60 }, (_, i) => randomBytes(1 + ((i * 7919) % 300_000)));
  const expected = Buffer.concat([before, ...chunks]);
  const fh = await open(file, 'r+');
  const reported: Buffer[] = [];
  let late = 0;
  try {
    const appender = new FileAppender(fh, before.length, (chunk) => {
      reported.push(chunk);
      // Everything up to the end of this chunk is already in the file when it is reported.
      const end = before.length + reported.reduce((n, c) => n + c.length, 0);
      if (!readFileSync(file).subarray(0, end).equals(expected.subarray(0, end))) late++;
    });
    await pipeline(Readable.from(chunks, { objectMode: false, highWaterMark: 16 << 20 }), appender);
  } finally {
    await fh.close();
  }
  t.ok(readFileSync(file).equals(expected), 'the file holds the old bytes, then every chunk in order');
  t.equal(reported.length, chunks.length, 'every chunk reported once');
  t.ok(
    reported.every((c, i) => c === chunks[i]),
    'in the order written',
  );
  t.equal(late, 0, 'no chunk reported before its bytes were in the file');
});

t.test('a write that fails ends the stream with the error', async (t) => {
  const file = join(dir, 'read-only');
  writeFileSync(file, '');
  // Opened for reading only: every write is refused by the system (EBADF).
  const fh = await open(file, 'r');
  try {
    const appender = new FileAppender(fh, 0);
    await t.rejects(pipeline(Readable.from([randomBytes(5000), randomBytes(5000), randomBytes(5000)]), appender), {
      code: 'EBADF',
    });
  } finally {
    await fh.close();
  }
  t.equal(readFileSync(file).length, 0, 'nothing written');
});
