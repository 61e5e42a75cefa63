// The decoder that relays a member's chunked answer to an upload (src/backends/chunked-decoder.ts):
// whatever way the answer is split across socket reads, the client gets the same body and the
// gateway knows where it ended; broken framing is refused rather than relayed.
import t from 'tap';
import { ChunkedDecoder } from '../../src/backends/chunked-decoder.js';

/** Two chunks (a chunk extension, a size with leading zeros, CRLF inside the data), then a trailer. */
const PARTS = ['{"errors":[{"code":"DENIED"', '}]}\n\r\n'];
const WIRE = Buffer.from(
  `${PARTS[0]!.length.toString(16)};ext=1\r\n${PARTS[0]}\r\n` +
    `${PARTS[1]!.length.toString(16).padStart(4, '0')}\r\n${PARTS[1]}\r\n` +
    '0\r\nx-trailer: 1\r\n\r\n',
  'latin1',
);
const BODY = PARTS.join('');

/** Feed `wire` in pieces cut at `cuts`; returns the body and where the decoder said it ended. */
function decode(wire: Buffer, cuts: number[]): { body: string; end: number } {
  const d = new ChunkedDecoder();
  let body = '';
  let end = -1;
  let from = 0;
  for (const to of [...cuts, wire.length]) {
    const e = d.feed(wire, from, to, (a, b) => {
      body += wire.toString('latin1', a, b);
    });
    if (e >= 0) end = e;
    from = to;
  }
  return { body, end };
}

t.test('the same body and end whatever the split', async (t) => {
  t.same(decode(WIRE, []), { body: BODY, end: WIRE.length });
  const wrong: string[] = [];
  for (let i = 1; i < WIRE.length; i++) {
    for (const j of [i + 1, i + 3, WIRE.length - 1]) {
      const cuts = j > i && j < WIRE.length ? [i, j] : [i];
      const got = decode(WIRE, cuts);
      if (got.body !== BODY || got.end !== WIRE.length) wrong.push(`split at ${cuts}: ${JSON.stringify(got)}`);
    }
  }
  t.same(wrong, [], 'every split point gives the same body and end');
});

t.test('bytes after the body are left for the caller to notice', async (t) => {
  const wire = Buffer.concat([WIRE, Buffer.from('HTTP/1.1 200 OK\r\n')]);
  t.same(decode(wire, []), { body: BODY, end: WIRE.length });
});

t.test('broken framing is refused', async (t) => {
  for (const bad of [
    'zz\r\nab\r\n0\r\n\r\n',
    '2\r\nabc\r\n0\r\n\r\n',
    '2\nab\r\n0\r\n\r\n',
    `${'1'.repeat(5000)}\r\n`,
  ]) {
    t.throws(() => decode(Buffer.from(bad, 'latin1'), []), JSON.stringify(bad.slice(0, 20)));
  }
});
