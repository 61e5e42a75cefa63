/**
 * Faults a gateway meets in production, each a repeatable test that says what it saw:
 * the registry killed mid-push and mid-pull then restarted, an upstream that resets
 * connections, 120 concurrent transfers aborted at random points, SIGHUP under load.
 */
import t from 'tap';
import http from 'node:http';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { makeOciImage, fileDigest } from '../helpers/oci-image.js';
import {
  startRegistry2,
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
  execFileP,
  type Running,
} from '../helpers/processes.js';
import { fakeUpstream } from '../helpers/gateway.js';

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

async function stubStatus(
  base: string,
): Promise<{ active: number; reading: number; writing: number; waiting: number }> {
  const body = (await fetchInsecure(`${base}/nginx_status`)).body;
  const [, active] = /Active connections: (\d+)/.exec(body)!;
  const [, reading, writing, waiting] = /Reading: (\d+) Writing: (\d+) Waiting: (\d+)/.exec(body)!;
  return { active: +active!, reading: +reading!, writing: +writing!, waiting: +waiting! };
}

async function settle(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Start a PATCH that streams `total` bytes slowly; resolves with the response (or the error). */
function slowUpload(
  url: string,
  total: number,
): { done: Promise<{ status?: number; body?: string; error?: string }>; sent: () => number } {
  let sent = 0;
  const done = new Promise<{ status?: number; body?: string; error?: string }>((resolve) => {
    const req = http.request(
      url,
      {
        method: 'PATCH',
        agent: false,
        headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('error', (e) => resolve({ error: e.message }));
    const chunk = Buffer.alloc(256 << 10);
    const tick = setInterval(() => {
      if (sent >= total || req.destroyed) {
        clearInterval(tick);
        req.end();
        return;
      }
      req.write(chunk);
      sent += chunk.length;
    }, 20);
  });
  return { done, sent: () => sent };
}

t.test(
  'registry:2 killed mid-push and mid-pull, then restarted: clear errors, retried push succeeds, blobs intact',
  async (t) => {
    const work = await tempDir();
    t.teardown(() => removeDir(work));
    const root = join(work, 'registry');
    let registry = await startRegistry2({ root });
    t.teardown(() => registry.stop());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gw = await startPortcullis(['--upstream', registry.url, '--listen', `127.0.0.1:${port}`], {
      probe: `${base}/_ping`,
    });
    t.teardown(() => gw.stop());

    // Mid-push: a streamed PATCH is in flight when the registry dies.
    const post = await fetchInsecure(`${base}/v2/fault/app/blobs/uploads/`, {
      method: 'POST',
      headers: { 'content-length': '0' },
    });
    const upload = slowUpload(new URL(post.headers.location!, base).href, 256 << 20);
    await settle(async () => upload.sent() > 4 << 20);
    await registry.stop('SIGKILL');
    const sentAtKill = upload.sent();
    const seen = await upload.done;
    t.ok(sentAtKill < 256 << 20, `the registry died mid-push (${sentAtKill} of ${256 << 20} bytes sent)`);
    t.comment(`mid-push the client saw: ${seen.status ?? seen.error} ${seen.body ?? ''}`);
    t.ok(
      seen.error || (seen.status === 502 && JSON.parse(seen.body!).errors[0].code === 'BAD_GATEWAY'),
      'a 502 registry JSON error or a cut connection, never a false success',
    );
    const during = await fetchInsecure(`${base}/v2/`);
    t.equal(during.status, 502, 'while the registry is down: 502');
    t.equal(during.headers['docker-distribution-api-version'], 'registry/2.0');
    t.equal((await fetchInsecure(`${base}/_ping`)).status, 200, 'portcullis keeps serving');

    registry = await startRegistry2({ root, port: registry.port });
    // 64 MiB: more than every socket buffer between the registry and a paused client holds
    // (about 20 MiB on loopback), so the registry is still sending when it dies.
    const image = await makeOciImage(join(work, 'img'), { layerSizes: [64 << 20, 1024] });
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--retry-times',
      '3',
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${port}/fault/app:v1`,
    ]);
    t.pass('the retried push succeeded after the restart');

    // Mid-pull: a big blob GET is streaming when the registry dies.
    const digest = image.layers[0]!.digest;
    const pulled = await new Promise<{ bytes: number; error?: string; complete: boolean }>((resolve) => {
      http
        .get(`${base}/v2/fault/app/blobs/${digest}`, { agent: false }, (res) => {
          let bytes = 0;
          let killed = false;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (!killed && bytes > 1 << 20) {
              killed = true;
              res.pause();
              void registry.stop('SIGKILL').then(() => res.resume());
            }
          });
          res.on('end', () => resolve({ bytes, complete: res.complete }));
          res.on('error', (e) => resolve({ bytes, error: e.message, complete: false }));
          res.on('close', () => resolve({ bytes, complete: res.complete }));
        })
        .on('error', (e) => resolve({ bytes: 0, error: e.message, complete: false }));
    });
    t.comment(
      `mid-pull the client got ${pulled.bytes} of ${image.layers[0]!.size} bytes (${pulled.error ?? 'connection closed'})`,
    );
    t.ok(pulled.bytes < image.layers[0]!.size, 'the registry died mid-pull');
    t.equal(pulled.complete, false, 'the truncated body is not presented as complete');

    registry = await startRegistry2({ root, port: registry.port });
    const out = join(work, 'out');
    await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${port}/fault/app:v1`, `oci:${out}:v1`]);
    for (const l of image.layers)
      t.equal(
        await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))),
        l.digest,
        'stored blob has the right digest',
      );
  },
);

t.test('an upstream that resets every connection: 502s, sockets released, stub_status back to idle', async (t) => {
  const up = await fakeUpstream((req) => {
    req.socket.destroy();
  });
  t.teardown(() => up.close());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(['--upstream', up.url, '--listen', `127.0.0.1:${port}`, '--health-interval', '0s'], {
    probe: `${base}/_ping`,
  });
  t.teardown(() => gw.stop());
  const before = fds(gw.pid);
  const results = await Promise.all(Array.from({ length: 40 }, () => fetchInsecure(`${base}/v2/app/manifests/v1`)));
  t.ok(
    results.every((r) => r.status === 502 && JSON.parse(r.body).errors[0].code === 'BAD_GATEWAY'),
    '40 × 502 BAD_GATEWAY',
  );
  t.ok(
    await settle(async () => {
      const s = await stubStatus(base);
      return s.active === 1 && s.writing === 1;
    }),
    'only the status request itself is active',
  );
  t.ok(await settle(async () => fds(gw.pid) <= before + 2), `file descriptors back to ${before} (now ${fds(gw.pid)})`);
});

t.test(
  '8 × 120 concurrent pushes and pulls aborted at random points: nothing leaks, nothing partial is visible',
  async (t) => {
    const work = await tempDir();
    t.teardown(() => removeDir(work));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gw: Running = await startPortcullis(['--storage', join(work, 'data'), '--listen', `127.0.0.1:${port}`], {
      probe: `${base}/_ping`,
    });
    t.teardown(() => gw.stop());
    const blob = randomBytes(8 << 20);
    const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const put = await fetchInsecure(`${base}/v2/abort/src/blobs/uploads/?digest=${blobDigest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
    t.equal(put.status, 201);
    await fetchInsecure(`${base}/v2/`);
    const fdBefore = fds(gw.pid);
    const rssBefore = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.pid}/status`, 'utf8'))![1]) / 1024;

    const aborted: { repo: string; digest: string }[] = [];
    const round = (r: number) =>
      Promise.all(
        Array.from(
          { length: 120 },
          (_, i) =>
            new Promise<void>((resolve) => {
              const abortAfter = Math.floor(Math.random() * (6 << 20));
              if (i % 2 === 0) {
                // A pull cut at a random byte.
                const req = http.get(`${base}/v2/abort/src/blobs/${blobDigest}`, { agent: false }, (res) => {
                  let n = 0;
                  res.on('data', (c: Buffer) => {
                    n += c.length;
                    if (n > abortAfter) req.destroy();
                  });
                  res.on('close', () => resolve());
                  res.on('error', () => resolve());
                });
                req.on('error', () => resolve());
              } else {
                // A monolithic push of a fresh blob cut at a random byte: its digest must never appear.
                const data = randomBytes(6 << 20);
                const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
                const repo = `r${r}p${i}`;
                aborted.push({ repo, digest });
                const req = http.request(`${base}/v2/abort/${repo}/blobs/uploads/?digest=${digest}`, {
                  method: 'POST',
                  agent: false,
                  headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
                });
                req.on('error', () => resolve());
                req.on('response', (res) => {
                  res.resume();
                  res.on('end', resolve);
                });
                req.write(data.subarray(0, abortAfter), () => req.destroy());
                req.on('close', () => resolve());
              }
            }),
        ),
      );
    const rssOf = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.pid}/status`, 'utf8'))![1]) / 1024;
    // Garbage from aborted bodies is freed when V8 gets to it, so RSS after any one round swings
    // by tens of MiB. Three rounds reach the plateau; a leak keeps climbing past it in five more.
    const plateau = async (from: number, to: number) => {
      let most = 0;
      for (let r = from; r <= to; r++) {
        await round(r);
        most = Math.max(most, rssOf());
      }
      return most;
    };
    const rssEarly = await plateau(1, 3);
    const rssLate = await plateau(4, 8);
    t.ok(
      await settle(async () => {
        const s = await stubStatus(base);
        return s.active === 1;
      }),
      'all aborted connections are gone from /nginx_status',
    );
    t.ok(
      await settle(async () => fds(gw.pid) <= fdBefore + 2, 15_000),
      `file descriptors back to ${fdBefore} (now ${fds(gw.pid)})`,
    );
    for (const { repo, digest } of aborted) {
      const r = await fetchInsecure(`${base}/v2/abort/${repo}/blobs/${digest}`, { method: 'HEAD' });
      if (r.status !== 404) {
        t.fail(`partial blob ${digest} visible (${r.status})`);
        break;
      }
    }
    t.pass(`none of the ${aborted.length} aborted pushes left a visible blob`);
    t.comment(
      `RSS: ${Math.round(rssBefore)} MiB before, at most ${Math.round(rssEarly)} in rounds 1-3, ${Math.round(rssLate)} in rounds 4-8`,
    );
    t.ok(rssLate - rssEarly < 64, 'memory does not keep growing round after round (no leak)');
    t.equal(
      (await fetchInsecure(`${base}/v2/abort/src/blobs/${blobDigest}`, { method: 'HEAD' })).headers['content-length'],
      String(8 << 20),
      'the committed blob is untouched',
    );
  },
);

t.test('SIGHUP under continuous load: zero failed requests', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const file = join(work, 'h');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', file, 'alice', 'pw']);
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--storage', join(work, 'data'), '--listen', `127.0.0.1:${port}`, '--tls-self-signed', '--htpasswd', file],
    { probe: `${base}/_ping` },
  );
  t.teardown(() => gw.stop());
  const auth = { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` };
  let ok = 0;
  let failed = 0;
  let running = true;
  const workers = Array.from({ length: 8 }, async () => {
    while (running) {
      try {
        const r = await fetchInsecure(`${base}/v2/`, { headers: auth });
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  });
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 250));
    if (i % 2) await execFileP('htpasswd', ['-Bb', '-C', '5', file, `user${i}`, 'x']);
    process.kill(gw.pid, 'SIGHUP');
  }
  running = false;
  await Promise.all(workers);
  t.comment(`${ok} requests during 10 reloads`);
  t.ok(ok > 50, 'load was running');
  t.equal(failed, 0, 'no request failed');
});

t.test(
  'portcullis itself SIGKILLed during pushes to the embedded core, restarted: nothing lost, nothing corrupt, pushes retry',
  async (t) => {
    const work = await tempDir();
    t.teardown(() => removeDir(work));
    const storage = join(work, 'data');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const args = ['--storage', storage, '--listen', `127.0.0.1:${port}`];
    let gw = await startPortcullis(args, { probe: `${base}/_ping` });
    t.teardown(() => gw.stop());
    // A committed image first: it must survive the crash whole.
    const image = await makeOciImage(join(work, 'img'), { layerSizes: [8 << 20, 1024] });
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${port}/crash/committed:v1`,
    ]);
    // Then two uploads in flight (a streamed PATCH and a monolithic POST) when the process dies.
    const big = randomBytes(64 << 20);
    const bigDigest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
    const post = await fetchInsecure(`${base}/v2/crash/app/blobs/uploads/`, {
      method: 'POST',
      headers: { 'content-length': '0' },
    });
    const streamed = slowUpload(new URL(post.headers.location!, base).href, 256 << 20);
    const mono = new Promise<void>((resolve) => {
      const req = http.request(`${base}/v2/crash/app/blobs/uploads/?digest=${bigDigest}`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) },
      });
      req.on('error', () => resolve());
      req.on('response', (r) => {
        r.resume();
        resolve();
      });
      req.write(big.subarray(0, 40 << 20));
    });
    await settle(async () => streamed.sent() > 8 << 20);
    await gw.stop('SIGKILL');
    await Promise.all([streamed.done, mono]);

    gw = await startPortcullis(args, { probe: `${base}/_ping` });
    t.equal(
      (await fetchInsecure(`${base}/v2/crash/app/blobs/${bigDigest}`, { method: 'HEAD' })).status,
      404,
      'the interrupted blob is not visible',
    );
    const out = join(work, 'out');
    await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${port}/crash/committed:v1`, `oci:${out}:v1`]);
    for (const l of image.layers)
      t.equal(
        await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))),
        l.digest,
        'the committed image survived whole',
      );
    const retry = await fetchInsecure(`${base}/v2/crash/app/blobs/uploads/?digest=${bigDigest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    t.equal(retry.status, 201, 'the push retried after the restart succeeds');
    const got = await new Promise<string>((resolve) =>
      http.get(`${base}/v2/crash/app/blobs/${bigDigest}`, (res) => {
        const h = createHash('sha256');
        res.on('data', (c) => h.update(c));
        res.on('end', () => resolve(`sha256:${h.digest('hex')}`));
      }),
    );
    t.equal(got, bigDigest, 'and serves exactly its bytes');
  },
);
