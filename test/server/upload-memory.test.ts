/**
 * What a large push costs the server in memory, on the real process: portcullis with the
 * embedded core on disk, and in front of a real registry:2. A body is read off the socket into
 * 256 KiB blocks; once a block's bytes are written (to the file, or copied towards registry:2)
 * the block is read into again. Were every block left to V8 instead, about 32 MiB of spent
 * blocks pile up before V8 collects them, on every push, whatever its size.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  removeDir,
  startPortcullis,
  startRegistry2,
  tempDir,
  waitForHttp,
  type Running,
} from '../helpers/processes.js';

const SLICE = randomBytes(1 << 20);
/** 160 MiB: well past the ~32 MiB V8 lets spent blocks pile up to. */
const BIG_MIB = 160;
const LIMIT_MIB = 16;

const status = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** The body of a `mib` MiB blob (the 1 MiB slice repeated) and its digest. */
function blob(mib: number): { digest: string; size: number } {
  const h = createHash('sha256');
  for (let i = 0; i < mib; i++) h.update(SLICE);
  return { digest: `sha256:${h.digest('hex')}`, size: mib << 20 };
}

function request(url: string, method: string, headers: http.OutgoingHttpHeaders, mib = 0) {
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    let sent = 0;
    const more = () => {
      while (sent < mib) {
        sent++;
        if (!req.write(SLICE)) return void req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

/** POST a session, then the whole body: one PUT with a Content-Length, or a chunked PATCH and an empty PUT. */
async function push(base: string, repo: string, mib: number, chunked: boolean): Promise<void> {
  const { digest, size } = blob(mib);
  const start = await request(`${base}/v2/${repo}/blobs/uploads/`, 'POST', { 'content-length': '0' });
  const session = new URL(start.headers.location!, base);
  if (chunked) {
    const patch = await request(session.href, 'PATCH', { 'transfer-encoding': 'chunked' }, mib);
    if (patch.statusCode !== 202) throw new Error(`PATCH answered ${patch.statusCode}`);
    const next = new URL(patch.headers.location!, base);
    next.searchParams.set('digest', digest);
    const put = await request(next.href, 'PUT', { 'content-length': '0' });
    if (put.statusCode !== 201) throw new Error(`PUT answered ${put.statusCode}`);
  } else {
    session.searchParams.set('digest', digest);
    const put = await request(session.href, 'PUT', { 'content-length': String(size) }, mib);
    if (put.statusCode !== 201) throw new Error(`PUT answered ${put.statusCode}`);
  }
}

const work = await tempDir('portcullis-upload-memory-');
t.teardown(() => removeDir(work));

/** A fresh server for each kind of push: memory a first big push took and freed would hide the second's. */
async function measure(t: Test, name: string, args: string[], chunked: boolean) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const srv: Running = await startPortcullis(['--listen', `127.0.0.1:${port}`, '--access-log', 'off', ...args]);
  try {
    await waitForHttp(`${base}/v2/`, 20_000, srv);
    // A small push first, so what the first push loads is not counted.
    await push(base, `memory/${name}`, 2, chunked);
    writeFileSync(`/proc/${srv.pid}/clear_refs`, '5'); // peak RSS := current RSS
    const before = status(srv.pid, 'VmRSS');
    await push(base, `memory/${name}`, BIG_MIB, chunked);
    const grown = status(srv.pid, 'VmHWM') - before;
    t.ok(
      grown < LIMIT_MIB,
      `${name}: peak RSS grew ${grown.toFixed(1)} MiB during a ${BIG_MIB} MiB ${chunked ? 'chunked PATCH' : 'PUT with Content-Length'} (under ${LIMIT_MIB})`,
    );
  } finally {
    await srv.stop();
  }
}

t.test('a large push to the embedded core', async (t) => {
  await measure(t, 'embedded', ['--storage', join(work, 'data-put')], false);
  await measure(t, 'embedded', ['--storage', join(work, 'data-patch')], true);
});

t.test('a large push through to registry:2', async (t) => {
  const registry = await startRegistry2();
  t.teardown(() => registry.stop());
  await measure(t, 'proxied', ['--upstream', registry.url], false);
  await measure(t, 'proxied', ['--upstream', registry.url], true);
});
