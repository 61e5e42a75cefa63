/**
 * Every request gets an id for the access log (and errors and notifications): unique per request,
 * unique across processes (workers, restarts), and the client's own X-Request-Id when it sends one.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFromFlags, request } from '../helpers/gateway.js';
import { tempDir, removeDir } from '../helpers/processes.js';

t.test('each request has its own id in the access log; a sent X-Request-Id is kept', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const log = join(dir, 'access.log');
  const gateway = await buildFromFlags({ storage: join(dir, 'storage'), accessLog: log });
  const { url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => gateway.close(0));
  for (let i = 0; i < 20; i++) t.equal((await request(`${url}/v2/`)).status, 200);
  await request(`${url}/v2/`, { headers: { 'x-request-id': 'trace-from-the-client-42' } });
  gateway.accessLog.flush();
  await new Promise((r) => setTimeout(r, 200));
  const lines = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { reqId?: string });
  t.equal(lines.length, 21, 'one line per request');
  const ids = lines.map((l) => l.reqId);
  t.ok(
    ids.every((id) => typeof id === 'string' && id.length >= 8),
    'every line has an id',
  );
  t.equal(new Set(ids).size, 21, 'no two requests share an id');
  // Lines are written as responses close, which under load need not be the order they were sent.
  t.equal(
    ids.filter((id) => id === 'trace-from-the-client-42').length,
    1,
    "the client's X-Request-Id is the id of its request",
  );
});

t.test('two processes never hand out the same ids', async (t) => {
  const module = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'gateway', 'request-id.js');
  const ids = () =>
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { newRequestId } = await import(${JSON.stringify(module)}); for (let i = 0; i < 3; i++) console.log(newRequestId());`,
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
  const first = ids();
  const second = ids();
  t.equal(new Set(first).size, 3);
  t.same(
    first.filter((id) => second.includes(id)),
    [],
    'a restarted process (or another worker) starts from other ids',
  );
});
