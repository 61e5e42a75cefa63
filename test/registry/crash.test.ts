/**
 * Durability: kill -9 the core during pushes, restart it on the same storage; nothing partial
 * is ever served and the push can be resumed or retried. Also: two processes share one
 * storage and one upload session (POST on one, PATCH on the other).
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, removeDir, startProcess, tempDir, waitForHttp, type Running } from '../helpers/processes.js';
import { http, sha256 } from './fixtures/harness.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'serve-core.js');

async function serve(storage: string, port?: number): Promise<Running & { url: string }> {
  const p = port ?? (await freePort());
  const proc = startProcess(process.execPath, [FIXTURE, String(p), storage]);
  const url = `http://127.0.0.1:${p}`;
  await waitForHttp(`${url}/v2/`, 20_000, proc);
  return { ...proc, url };
}

/** Blob files whose content does not hash to their name (must always be none). */
async function corruptBlobs(storage: string): Promise<string[]> {
  const bad: string[] = [];
  const base = join(storage, 'blobs', 'sha256');
  for (const p of await readdir(base).catch(() => [] as string[])) {
    for (const hex of await readdir(join(base, p))) {
      const actual = createHash('sha256')
        .update(await readFile(join(base, p, hex)))
        .digest('hex');
      if (actual !== hex) bad.push(hex);
    }
  }
  return bad;
}

/** Start streaming `data` (chunked, slowly) to `path`; resolves once `until()` holds, leaving the request open. */
function streamSlowly(
  url: string,
  path: string,
  method: string,
  data: Buffer,
  headers: Record<string, string | number> = {},
) {
  const u = new URL(url);
  const req = request({ host: u.hostname, port: u.port, path, method, headers, agent: false });
  const done = new Promise<number | string>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
  });
  let off = 0;
  let stopped = false;
  const pump = () => {
    if (stopped || off >= data.length) return;
    req.write(data.subarray(off, off + (256 << 10)));
    off += 256 << 10;
    setTimeout(pump, 5);
  };
  pump();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}

const storage = await tempDir('portcullis-crash-');
t.teardown(() => removeDir(storage));

t.test('kill -9 during a push: nothing partial is served, the upload resumes, a retry succeeds', async (t) => {
  const data = randomBytes(24 << 20);
  const digest = sha256(data);
  let srv = await serve(storage);
  const port = Number(new URL(srv.url).port);

  // A chunked (docker-style streamed) PATCH and a single-POST monolithic push, both in flight.
  const post = await http(srv.url, '/v2/crash/repo/blobs/uploads/', { method: 'POST' });
  const loc = post.headers.location!;
  const id = loc.split('/').pop()!;
  const patch = streamSlowly(srv.url, loc, 'PATCH', data, { 'content-type': 'application/octet-stream' });
  const mono = streamSlowly(srv.url, `/v2/crash/repo/blobs/uploads/?digest=${digest}`, 'POST', data, {
    'content-length': data.length,
  });
  const dataFile = join(storage, 'uploads', id, 'data');
  for (let i = 0; i < 400 && ((await stat(dataFile).catch(() => null))?.size ?? 0) < 2 << 20; i++)
    await new Promise((r) => setTimeout(r, 10));
  t.ok((await stat(dataFile)).size >= 2 << 20, 'the push is under way');
  await srv.stop('SIGKILL');
  patch.stop();
  mono.stop();
  t.not(await patch.done, 202, 'the streamed PATCH did not complete');
  t.not(await mono.done, 201, 'the monolithic POST did not complete');

  srv = await serve(storage, port);
  t.teardown(() => srv.stop());
  const head = await http(srv.url, `/v2/crash/repo/blobs/${digest}`, { method: 'HEAD' });
  t.equal(head.status, 404, 'no partial blob is visible after the crash');
  t.same(await corruptBlobs(storage), [], 'every stored blob is whole and correct');

  // Resume: the session survived with whatever landed; send the rest, then close.
  const st = await http(srv.url, loc);
  t.equal(st.status, 204);
  const landed = Number(/^0-(\d+)$/.exec(String(st.headers.range))![1]) + 1;
  t.ok(landed > 0 && landed < data.length, `session resumed at ${landed} bytes`);
  const rest = await http(srv.url, loc, {
    method: 'PATCH',
    body: data.subarray(landed),
    headers: { 'content-range': `${landed}-${data.length - 1}`, 'content-length': data.length - landed },
  });
  t.equal(rest.status, 202);
  const put = await http(srv.url, `${loc}?digest=${digest}`, { method: 'PUT' });
  t.equal(put.status, 201, 'resumed upload verifies against the full digest');
  const get = await http(srv.url, `/v2/crash/repo/blobs/${digest}`);
  t.ok(get.body.equals(data), 'the whole blob is served');

  // And a plain retry from scratch (what most clients do) succeeds too.
  const retry = await http(srv.url, `/v2/crash/again/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: data,
    headers: { 'content-length': data.length },
  });
  t.equal(retry.status, 201);
  t.same(await corruptBlobs(storage), []);
});

t.test('two processes on one storage share an upload session (POST on one, PATCH and PUT on the other)', async (t) => {
  const a = await serve(storage);
  const b = await serve(storage);
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const data = randomBytes(300_000);
  const post = await http(a.url, '/v2/shared/repo/blobs/uploads/', { method: 'POST' });
  const loc = post.headers.location!;
  const p1 = await http(b.url, loc, {
    method: 'PATCH',
    body: data.subarray(0, 100_000),
    headers: { 'content-range': '0-99999', 'content-length': 100_000 },
  });
  t.equal(p1.status, 202);
  const p2 = await http(a.url, loc, {
    method: 'PATCH',
    body: data.subarray(100_000),
    headers: { 'content-range': `100000-${data.length - 1}`, 'content-length': data.length - 100_000 },
  });
  t.equal(p2.status, 202);
  const put = await http(b.url, `${loc}?digest=${sha256(data)}`, { method: 'PUT' });
  t.equal(put.status, 201);
  t.ok((await http(a.url, `/v2/shared/repo/blobs/${sha256(data)}`)).body.equals(data));
  // a tag written by one process is seen at once by the other
  const cfg = Buffer.from('{}');
  await http(a.url, `/v2/shared/repo/blobs/uploads/?digest=${sha256(cfg)}`, {
    method: 'POST',
    body: cfg,
    headers: { 'content-length': 2 },
  });
  const manifest = (layer: string) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: data.length }],
    });
  const m1 = manifest(sha256(data));
  await http(a.url, '/v2/shared/repo/manifests/latest', {
    method: 'PUT',
    body: m1,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  t.equal(
    (await http(b.url, '/v2/shared/repo/manifests/latest', { method: 'HEAD' })).headers['docker-content-digest'],
    sha256(m1),
  );
  await http(b.url, '/v2/shared/repo/manifests/latest', { method: 'DELETE' });
  t.equal(
    (await http(a.url, '/v2/shared/repo/manifests/latest', { method: 'HEAD' })).status,
    404,
    'tag deletion seen by the other process',
  );
});
