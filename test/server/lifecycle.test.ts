/**
 * Signals and listeners as an operator uses them: SIGTERM drains in-flight transfers and
 * exits 0, SIGHUP swaps certificates without dropping connections, SIGUSR1 reopens the
 * access log, --redirect-http answers JSON, old TLS versions are refused.
 */
import t from 'tap';
import http from 'node:http';
import tls from 'node:tls';
import { join } from 'node:path';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { startPortcullis, freePort, tempDir, removeDir, execFileP, fetchInsecure } from '../helpers/processes.js';
import { fakeUpstream } from '../helpers/gateway.js';

async function makeCert(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await execFileP('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return { cert, key };
}

function peerFingerprint(
  port: number,
  minVersion?: tls.SecureVersion,
  maxVersion?: tls.SecureVersion,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion, maxVersion }, () => {
      resolve(s.getPeerX509Certificate()!.fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

t.test('SIGTERM under load: in-flight transfers finish, new connections are refused, exit 0', async (t) => {
  const up = await fakeUpstream((req, res) => {
    if (req.url === '/v2/') {
      res.writeHead(200, { 'content-length': '2' }).end('{}');
      return;
    } // health probes
    res.writeHead(200, { 'content-length': String(20 * 65536) });
    let sent = 0;
    const tick = setInterval(() => {
      res.write(Buffer.alloc(65536));
      if (++sent === 20) {
        clearInterval(tick);
        res.end();
      }
    }, 50);
  });
  t.teardown(() => up.close());
  const port = await freePort();
  const gw = await startPortcullis(['--upstream', up.url, '--listen', `127.0.0.1:${port}`, '--shutdown-grace', '20s'], {
    probe: `http://127.0.0.1:${port}/_ping`,
  });
  t.teardown(() => gw.stop('SIGKILL'));
  // Eight downloads in flight when the signal comes.
  const bodies = Array.from(
    { length: 8 },
    () =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${port}/v2/app/blobs/sha256:${'a'.repeat(64)}`, { agent: false }, (res) => {
            let n = 0;
            res.on('data', (c: Buffer) => {
              n += c.length;
            });
            res.on('end', () => resolve(n));
            res.on('error', reject);
          })
          .on('error', reject);
      }),
  );
  await new Promise((r) => setTimeout(r, 200));
  const exited = new Promise<number | null>((r) => gw.proc.once('exit', (code) => r(code)));
  process.kill(gw.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  await t.rejects(
    fetchInsecure(`http://127.0.0.1:${port}/v2/`),
    /ECONNREFUSED/,
    'new connections refused while draining',
  );
  t.same(await Promise.all(bodies), Array(8).fill(20 * 65536), 'all 8 in-flight downloads completed');
  t.equal(await exited, 0);
});

t.test('SIGHUP reloads the certificate without dropping an open connection', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const a = await makeCert(dir, 'a');
  const b = await makeCert(dir, 'b');
  const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
  await writeFile(live.cert, await readFile(a.cert));
  await writeFile(live.key, await readFile(a.key));
  const port = await freePort();
  const gw = await startPortcullis(
    ['--listen', `127.0.0.1:${port}`, '--tls-cert', live.cert, '--tls-key', live.key, '--storage', join(dir, 'data')],
    { probe: `https://127.0.0.1:${port}/_ping` },
  );
  t.teardown(() => gw.stop());
  const fa = new X509Certificate(await readFile(a.cert)).fingerprint256;
  const fb = new X509Certificate(await readFile(b.cert)).fingerprint256;
  t.equal(await peerFingerprint(port), fa);
  const keep = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise((r) => keep.once('secureConnect', r));
  await writeFile(`${live.cert}.tmp`, await readFile(b.cert));
  await rename(`${live.cert}.tmp`, live.cert);
  await writeFile(`${live.key}.tmp`, await readFile(b.key));
  await rename(`${live.key}.tmp`, live.key);
  process.kill(gw.pid, 'SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await peerFingerprint(port), fb, 'new handshakes get the new certificate');
  const answer = await new Promise<string>((resolve) => {
    let out = '';
    keep.on('data', (d) => {
      out += d;
      if (out.includes('\r\n\r\n')) resolve(out);
    });
    keep.write('GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
  t.match(answer, /^HTTP\/1\.1 200/, 'the connection opened before the reload still works');
  keep.destroy();
  // A broken certificate on reload keeps the old one.
  await writeFile(live.cert, 'not a certificate');
  process.kill(gw.pid, 'SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await peerFingerprint(port), fb, 'a failed reload keeps serving the previous certificate');
  t.match(gw.output(), /TLS reload failed; keeping the previous certificate/);
});

t.test('TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted; HSTS on request', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const port = await freePort();
  const gw = await startPortcullis(['--listen', `127.0.0.1:${port}`, '--tls-self-signed', '--hsts', '--storage', dir], {
    probe: `https://127.0.0.1:${port}/_ping`,
  });
  t.teardown(() => gw.stop());
  for (const v of ['-tls1', '-tls1_1']) {
    const r = await execFileP(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, v, '-cipher', 'DEFAULT@SECLEVEL=0'],
      { timeout: 10_000 },
    ).catch((e) => e);
    t.not(r.code ?? 0, 0, `openssl s_client ${v} fails`);
  }
  for (const v of ['-tls1_2', '-tls1_3']) {
    const r = await execFileP('sh', ['-c', `echo | openssl s_client -connect 127.0.0.1:${port} ${v}`], {
      timeout: 10_000,
    });
    t.match(r.stdout, /Protocol\s*:\s*TLSv1\.[23]|New, TLSv1\.[23]/, `openssl s_client ${v} connects`);
  }
  const res = await fetchInsecure(`https://127.0.0.1:${port}/v2/`);
  t.match(res.headers['strict-transport-security'], /max-age=\d+/);
});

t.test(
  'TLS 1.3 uses AES-128-GCM for a client that lists AES-256 first, AES-256 for one that has only it',
  async (t) => {
    const dir = await tempDir();
    t.teardown(() => removeDir(dir));
    const port = await freePort();
    const gw = await startPortcullis(['--listen', `127.0.0.1:${port}`, '--tls-self-signed', '--storage', dir], {
      probe: `https://127.0.0.1:${port}/_ping`,
    });
    t.teardown(() => gw.stop());
    // openssl s_client (like curl) offers TLS_AES_256_GCM_SHA384 first; the server's order decides.
    const suite = async (extra: string) => {
      const r = await execFileP('sh', ['-c', `echo | openssl s_client -connect 127.0.0.1:${port} -tls1_3 ${extra}`], {
        timeout: 10_000,
      });
      return /Cipher is (\S+)/.exec(r.stdout)?.[1];
    };
    t.equal(await suite(''), 'TLS_AES_128_GCM_SHA256', 'the client offering its default list gets AES-128-GCM');
    t.equal(await suite('-ciphersuites TLS_AES_256_GCM_SHA384'), 'TLS_AES_256_GCM_SHA384', 'an AES-256-only client');
  },
);

t.test('--redirect-http sends plain HTTP to HTTPS with a JSON body', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const port = await freePort();
  const plain = await freePort();
  const gw = await startPortcullis(
    ['--listen', `127.0.0.1:${port}`, '--tls-self-signed', '--redirect-http', `127.0.0.1:${plain}`, '--storage', dir],
    { probe: `https://127.0.0.1:${port}/_ping` },
  );
  t.teardown(() => gw.stop());
  const res = await fetchInsecure(`http://127.0.0.1:${plain}/v2/app/tags/list?n=1`);
  t.equal(res.status, 308);
  t.equal(res.headers.location, `https://127.0.0.1:${port}/v2/app/tags/list?n=1`);
  t.match(res.headers['content-type'], /application\/json/);
  t.equal(JSON.parse(res.body).errors[0].code, 'UNSUPPORTED');
});

t.test('SIGUSR1 reopens the access log after logrotate moved it', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const log = join(dir, 'access.log');
  const port = await freePort();
  const gw = await startPortcullis(
    ['--listen', `127.0.0.1:${port}`, '--access-log', log, '--log-format', 'combined', '--storage', join(dir, 'data')],
    { probe: `http://127.0.0.1:${port}/_ping` },
  );
  t.teardown(() => gw.stop());
  await fetchInsecure(`http://127.0.0.1:${port}/v2/first`);
  await new Promise((r) => setTimeout(r, 300));
  await rename(log, `${log}.1`);
  process.kill(gw.pid, 'SIGUSR1');
  await new Promise((r) => setTimeout(r, 200));
  await fetchInsecure(`http://127.0.0.1:${port}/v2/second`, { headers: { 'user-agent': 'logrotate-test' } });
  await gw.stop();
  t.match(await readFile(`${log}.1`, 'utf8'), /"GET \/v2\/first HTTP\/1\.1" 404/);
  const fresh = await readFile(log, 'utf8');
  t.match(
    fresh,
    /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/v2\/second HTTP\/1\.1" 404 \d+ "-" "logrotate-test"$/m,
    'combined format in the new file',
  );
});

t.test(
  '--user/--group: binds, then runs unprivileged (seed 000)',
  { skip: process.getuid?.() !== 0 ? 'needs root to drop privileges' : false },
  async (t) => {
    const dir = await tempDir();
    t.teardown(() => removeDir(dir));
    const { chmod, chown } = await import('node:fs/promises');
    await chmod(dir, 0o777);
    const data = join(dir, 'data');
    const port = await freePort();
    const gw = await startPortcullis(
      ['--listen', `127.0.0.1:${port}`, '--storage', data, '--user', 'nobody', '--group', 'nogroup'],
      { probe: `http://127.0.0.1:${port}/_ping` },
    );
    t.teardown(() => gw.stop());
    const status = await readFile(`/proc/${gw.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)![2]);
    const nobody = Number((await execFileP('id', ['-u', 'nobody'])).stdout.trim());
    t.equal(uid, nobody, 'effective uid is nobody');
    t.not(uid, 0);
    t.equal((await fetchInsecure(`http://127.0.0.1:${port}/v2/`)).status, 200, 'still serving');
    void chown;
  },
);
