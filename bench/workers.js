#!/usr/bin/env node
// --workers benchmark (npm run bench:workers): the same embedded registry served by portcullis
// with 1 and 2 workers, and nginx (worker_processes auto) serving the same blob file as a
// static file, all over TLS, one after the other in one run:
//   blobs: 16 parallel curl GETs of one blob, ROUNDS times each
//   small: wrk -c64 GET /v2/ (the version check)
// Reports throughput, the ratio 2 workers / 1 worker, server CPU seconds per GB and per 1000
// requests (process CPU time of the whole process tree, which other users of a shared machine
// affect far less than wall time), requests per CPU-second, and peak RSS per process.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backgroundLoad, machineDetails } from './lib/report.js';
import {
  cpuSeconds,
  freePort,
  log,
  peakRss,
  processTree,
  resetPeakRss,
  run,
  startProcess,
  stopAll,
  waitForHttp,
} from './lib/sys.js';
import { makeCert } from './lib/targets.js';
import { wrk } from './lib/workloads.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BLOB_MB = Number(process.env.BENCH_BLOB_MB ?? 32);
const PARALLEL = 16;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SMALL_SECONDS = Number(process.env.BENCH_SMALL_SECONDS ?? 8);

function request(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

async function pushBlob(base, file, digest, size) {
  const post = await request(`${base}/v2/bench/blobs/uploads/`, { method: 'POST', headers: { 'content-length': 0 } });
  const loc = new URL(post.headers.location, base);
  loc.searchParams.set('digest', digest);
  const put = await request(loc.href, {
    method: 'PUT',
    body: createReadStream(file),
    headers: { 'content-type': 'application/octet-stream', 'content-length': size },
  });
  if (put.status !== 201) throw new Error(`blob PUT answered ${put.status}`);
}

async function startPortcullis(workers, storage, tls) {
  const port = await freePort();
  const h = startProcess(`portcullis --workers ${workers}`, process.execPath, [
    join(ROOT, 'dist', 'bin', 'portcullis.js'),
    '--workers',
    String(workers),
    '--listen',
    `127.0.0.1:${port}`,
    '--storage',
    storage,
    '--tls-cert',
    tls.cert,
    '--tls-key',
    tls.key,
    '--access-log',
    'off',
    '--log-level',
    'warn',
    '--shutdown-grace',
    '2s',
  ]);
  const url = `https://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 90_000, h);
  // Every worker listening: /_status lists them all.
  if (workers > 1)
    for (let i = 0; i < 300; i++) {
      const { body } = await new Promise((resolve, reject) =>
        https
          .get(`${url}/_status`, { rejectUnauthorized: false, agent: false }, (res) => {
            let b = '';
            res.on('data', (c) => {
              b += c;
            });
            res.on('end', () => resolve({ body: b }));
          })
          .on('error', reject),
      );
      if (JSON.parse(body).group?.workers?.length === workers) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  return { name: `portcullis, ${workers} worker${workers > 1 ? 's' : ''}`, url, handle: h, auth: false };
}

async function startNginx(dir, tls, blobFile, digest) {
  await mkdir(join(dir, 'logs'), { recursive: true });
  const webroot = join(dir, 'www');
  await mkdir(join(webroot, 'v2', 'bench', 'blobs'), { recursive: true });
  await run('ln', ['-s', blobFile, join(webroot, 'v2', 'bench', 'blobs', digest)]);
  const port = await freePort();
  const conf = `
${process.geteuid?.() === 0 ? 'user root root;' : ''}
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    root ${webroot};
    location = /v2/ { default_type application/json; return 200 '{}'; }
    location /v2/ { default_type application/octet-stream; }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  const h = startProcess('nginx', 'nginx', ['-p', dir, '-c', file, '-g', 'daemon off;']);
  h.stopSignal = 'SIGTERM';
  const url = `https://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 20_000, h);
  return { name: 'nginx (worker_processes auto, static file)', url, handle: h, auth: false };
}

async function blobs(target, digest, size) {
  const pids = processTree(target.handle.pid);
  resetPeakRss(pids);
  const cpu0 = cpuSeconds(pids);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const r = await run('curl', [
          '-sS',
          '-k',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %{size_download}',
          `${target.url}/v2/bench/blobs/${digest}`,
        ]);
        const [code, got] = r.stdout.trim().split(' ');
        if (code !== '200' || Number(got) !== size) throw new Error(`${target.name}: GET ${code}, ${got} bytes`);
        bytes += Number(got);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(processTree(target.handle.pid)) - cpu0;
  return { mbps: bytes / 1e6 / seconds, cpuPerGB: cpu / (bytes / 1e9), rss: peakRss(processTree(target.handle.pid)) };
}

async function small(target) {
  // Each worker compiles its hot paths itself: warm them all before measuring.
  await wrk(target, { path: '/v2/', method: 'GET', seconds: 2, connections: 64, threads: 2 });
  const pids = processTree(target.handle.pid);
  const cpu0 = cpuSeconds(pids);
  const r = await wrk(target, { path: '/v2/', method: 'GET', seconds: SMALL_SECONDS, connections: 64, threads: 2 });
  const cpu = cpuSeconds(processTree(target.handle.pid)) - cpu0;
  return {
    rps: r.requests / r.seconds,
    p99ms: r.p99ms,
    cpuPer1k: (cpu / r.requests) * 1e6,
    perCore: r.requests / cpu,
  };
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'portcullis-bench-workers-'));
  try {
    const tls = await makeCert(work);
    const blobFile = join(work, 'blob');
    const data = randomBytes(BLOB_MB << 20);
    await writeFile(blobFile, data);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const storage = join(work, 'storage');
    const busyBefore = await backgroundLoad(3000);
    log(`machine busy ${(busyBefore * 100).toFixed(0)}% before the run`);
    const rows = [];
    for (const make of [
      () => startPortcullis(1, storage, tls),
      () => startPortcullis(2, storage, tls),
      () => startNginx(join(work, 'nginx'), tls, blobFile, digest),
    ]) {
      const target = await make();
      if (!target.name.startsWith('nginx') && rows.length === 0)
        await pushBlob(target.url, blobFile, digest, data.length);
      log(`${target.name}: blobs`);
      const b = await blobs(target, digest, data.length);
      log(`${target.name}: small requests`);
      const s = await small(target);
      const procs = processTree(target.handle.pid).length;
      rows.push({ name: target.name, procs, ...b, ...s });
      await target.handle.stop(target.handle.stopSignal ?? 'SIGTERM', 5_000);
    }
    const busyAfter = await backgroundLoad(3000);
    const [one, two, nginx] = rows;
    const lines = [
      `# --workers benchmark (${new Date().toISOString().slice(0, 10)})`,
      '',
      await machineDetails().then(
        (m) => `${m.nproc} cores, ${m.cpu}, ${m.node}, ${m.nginx}; load average ${m.loadavg}.`,
      ),
      `Machine busy (all cores, before/after, from /proc/stat): ${(busyBefore * 100).toFixed(0)}% / ${(busyAfter * 100).toFixed(0)}%.`,
      `Blobs: ${PARALLEL} parallel curl GETs of a ${BLOB_MB} MiB blob, ${ROUNDS} rounds each, TLS. Small: wrk -t2 -c64 GET /v2/ for ${SMALL_SECONDS} s, TLS.`,
      'The clients (curl, wrk) run on the same cores as the servers.',
      '',
      '| target | processes | blobs MB/s | server CPU s/GB | peak RSS per process MiB | small req/s | p99 ms | CPU ms per 1000 req | req per CPU-second |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.procs} | ${r.mbps.toFixed(0)} | ${r.cpuPerGB.toFixed(2)} | ${(r.rss / r.procs / 2 ** 20).toFixed(0)} | ${r.rps.toFixed(0)} | ${r.p99ms.toFixed(1)} | ${r.cpuPer1k.toFixed(0)} | ${r.perCore.toFixed(0)} |`,
      ),
      '',
      `2 workers / 1 worker: blobs ${(two.mbps / one.mbps).toFixed(2)}x, small requests ${(two.rps / one.rps).toFixed(2)}x (target 1.6x).`,
      `2 workers / nginx: blobs ${(two.mbps / nginx.mbps).toFixed(2)}x, small requests ${(two.rps / nginx.rps).toFixed(2)}x.`,
    ];
    const out = lines.join('\n');
    process.stdout.write(`${out}\n`);
    await writeFile(join(ROOT, 'bench', 'results', 'workers-latest.md'), `${out}\n`);
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch(async (e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  await stopAll();
  process.exit(1);
});
