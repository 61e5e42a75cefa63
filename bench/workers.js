#!/usr/bin/env node
// --workers benchmark (npm run bench:workers): the same embedded registry served by portcullis
// with 1 and 2 workers, and nginx (worker_processes auto) serving the same blob file as a
// static file, all over TLS, one after the other in one run:
//   blobs: 16 parallel curl GETs of one blob, ROUNDS times each
//   small: wrk -c64 GET /v2/ (the version check)
// Reports throughput, the ratio 2 workers / 1 worker, gateway CPU seconds per GB and per 1000
// requests (process CPU time of the whole process tree, which other users of a shared machine
// affect far less than wall time), requests per CPU-second, peak RSS per worker, and where the
// CPU went: the primary, each worker, and the load generator (curl/wrk run on the same cores,
// so every CPU-second they take is one the gateway cannot have).
//
// BENCH_SCHED=both adds a row with node:cluster's round robin (the primary accepts each
// connection and passes it on) next to portcullis' default (workers accept themselves).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backgroundLoad, machineDetails } from './lib/report.js';
import {
  CLK_TCK,
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
import { makeCert, startPortcullis } from './lib/targets.js';
import { wrk } from './lib/workloads.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BLOB_MB = Number(process.env.BENCH_BLOB_MB ?? 32);
const PARALLEL = 16;
/** curl processes sharing the PARALLEL transfers. */
const CLIENTS = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SMALL_SECONDS = Number(process.env.BENCH_SMALL_SECONDS ?? 8);
const SCHED_BOTH = process.env.BENCH_SCHED === 'both';

/** CPU seconds of every child this process has waited for (curl and wrk, once they exited). */
function clientCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK; // cutime, cstime (fields 16, 17 of stat)
}

/** CPU seconds per PID, so the report can say what the primary and each worker spent. */
function cpuByPid(pids) {
  return new Map(pids.map((p) => [p, cpuSeconds([p])]));
}

/** Starts the CPU clocks of a target's processes and of the load generator; stop() gives the deltas. */
function cpuMeter(target) {
  const pids = processTree(target.handle.pid);
  const before = cpuByPid(pids);
  const client0 = clientCpuSeconds();
  return () => {
    const after = cpuByPid(pids);
    const perProcess = pids.map((p) => Math.max(0, after.get(p) - before.get(p)));
    const gateway = perProcess.reduce((a, b) => a + b, 0);
    // The first PID is the one the bench started: the primary of a group, or the only process.
    const [root, ...rest] = perProcess;
    return { gateway, root, children: rest, client: clientCpuSeconds() - client0 };
  };
}

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

async function startGroup(workers, storage, tls, sched) {
  const name = `portcullis, ${workers} worker${workers > 1 ? 's' : ''}${sched === 'rr' ? ' (round robin through the primary)' : ''}`;
  const env = sched ? { NODE_CLUSTER_SCHED_POLICY: sched } : {};
  const { url, handle } = await startPortcullis(ROOT, { storage, tls, workers, env, name });
  return { name, url, handle, auth: false, workers };
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
  return { name: 'nginx (worker_processes auto, static file)', url, handle: h, auth: false, nginx: true };
}

async function blobs(target, digest, size) {
  const pids = processTree(target.handle.pid);
  resetPeakRss(pids);
  const meter = cpuMeter(target);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  // Two curl processes, each running half the transfers in parallel (-Z): the cheapest TLS
  // client at hand (one process per transfer cost ~15% more CPU per GB), on both cores.
  const url = `${target.url}/v2/bench/blobs/${digest}`;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const transfers = (PARALLEL / CLIENTS) * ROUNDS;
      const args = ['-sSk', '--no-progress-meter', '-Z', '--parallel-max', String(PARALLEL / CLIENTS)];
      for (let i = 0; i < transfers; i++) args.push('-o', '/dev/null', '-w', '%{http_code} %{size_download}\\n', url);
      const r = await run('curl', args);
      const lines = r.stdout.trim().split('\n');
      for (const line of lines) {
        const [code, got] = line.split(' ');
        if (code !== '200' || Number(got) !== size) throw new Error(`${target.name}: GET ${code}, ${got} bytes`);
        bytes += Number(got);
      }
      if (lines.length !== transfers)
        throw new Error(`${target.name}: ${lines.length} of ${transfers} transfers ended`);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = meter();
  const gb = bytes / 1e9;
  return {
    mbps: bytes / 1e6 / seconds,
    blobSeconds: seconds,
    cpuPerGB: cpu.gateway / gb,
    clientPerGB: cpu.client / gb,
    blobCpu: cpu,
    rssByPid: pids.map((p) => peakRss([p])),
  };
}

async function small(target) {
  // Each worker compiles its hot paths itself: warm them all before measuring.
  await wrk(target, { path: '/v2/', method: 'GET', seconds: 2, connections: 64, threads: 2 });
  const meter = cpuMeter(target);
  const r = await wrk(target, { path: '/v2/', method: 'GET', seconds: SMALL_SECONDS, connections: 64, threads: 2 });
  const cpu = meter();
  return {
    rps: r.requests / r.seconds,
    p99ms: r.p99ms,
    cpuPer1k: (cpu.gateway / r.requests) * 1e6,
    clientPer1k: (cpu.client / r.requests) * 1e6,
    perCore: r.requests / cpu.gateway,
    smallSeconds: r.seconds,
    smallCpu: cpu,
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
    const makers = [
      () => startGroup(1, storage, tls),
      () => startGroup(2, storage, tls),
      ...(SCHED_BOTH ? [() => startGroup(2, storage, tls, 'rr')] : []),
      () => startNginx(join(work, 'nginx'), tls, blobFile, digest),
    ];
    for (const make of makers) {
      const target = await make();
      if (!target.nginx && rows.length === 0) await pushBlob(target.url, blobFile, digest, data.length);
      log(`${target.name}: blobs`);
      const b = await blobs(target, digest, data.length);
      log(`${target.name}: small requests`);
      const s = await small(target);
      const procs = processTree(target.handle.pid).length;
      rows.push({ name: target.name, procs, target, ...b, ...s });
      await target.handle.stop(target.handle.stopSignal ?? 'SIGTERM', 5_000);
    }
    const busyAfter = await backgroundLoad(3000);
    const one = rows[0];
    const two = rows[1];
    const nginx = rows[rows.length - 1];
    const mib = (b) => (b / 2 ** 20).toFixed(0);
    // A group's first process is its primary (it serves nothing); the workers are its children.
    // 1 worker runs in the one process; nginx's master is the first process too.
    const hasPrimary = (r) => r.procs > 1;
    const rss = (r) => {
      const workers = hasPrimary(r) ? r.rssByPid.slice(1) : r.rssByPid;
      return `${workers.map(mib).join(' + ')}${hasPrimary(r) ? ` (primary ${mib(r.rssByPid[0])})` : ''}`;
    };
    // Cores busy = CPU seconds / wall seconds: what each process took of the machine's 2 cores.
    const cores = (cpu, wall, r) => {
      const parts = hasPrimary(r)
        ? [
            `primary ${(cpu.root / wall).toFixed(2)}`,
            ...cpu.children.map((c, i) => `worker ${i + 1} ${(c / wall).toFixed(2)}`),
          ]
        : [`${r.target.nginx ? 'nginx' : 'worker'} ${(cpu.root / wall).toFixed(2)}`];
      const total = cpu.gateway + cpu.client;
      return `${parts.join(', ')}; load generator ${(cpu.client / wall).toFixed(2)}; all ${(total / wall).toFixed(2)}`;
    };
    const ceilingMbps = 2000 / (two.cpuPerGB + two.clientPerGB);
    const ceilingRps = 2e6 / (two.cpuPer1k + two.clientPer1k);
    const lines = [
      `# --workers benchmark (${new Date().toISOString().slice(0, 10)})`,
      '',
      await machineDetails().then(
        (m) => `${m.nproc} cores, ${m.cpu}, ${m.node}, ${m.nginx}; load average ${m.loadavg}.`,
      ),
      `Machine busy (all cores, before/after, from /proc/stat): ${(busyBefore * 100).toFixed(0)}% / ${(busyAfter * 100).toFixed(0)}%.`,
      `Blobs: ${PARALLEL} parallel GETs of a ${BLOB_MB} MiB blob (2 curl -Z processes), ${ROUNDS} rounds each, TLS. Small: wrk -t2 -c64 GET /v2/ for ${SMALL_SECONDS} s, TLS (keep-alive).`,
      'The load generators (curl, wrk) run on the same 2 cores as the servers; their CPU is measured too.',
      '',
      '| target | processes | blobs MB/s | gateway CPU s/GB | curl CPU s/GB | small req/s | p99 ms | gateway CPU ms per 1000 req | wrk CPU ms per 1000 req | req per gateway CPU-second | peak RSS per worker MiB |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.procs} | ${r.mbps.toFixed(0)} | ${r.cpuPerGB.toFixed(2)} | ${r.clientPerGB.toFixed(2)} | ${r.rps.toFixed(0)} | ${r.p99ms.toFixed(1)} | ${r.cpuPer1k.toFixed(0)} | ${r.clientPer1k.toFixed(0)} | ${r.perCore.toFixed(0)} | ${rss(r)} |`,
      ),
      '',
      'Where the 2 cores went (CPU seconds / wall seconds per process):',
      '',
      '| target | blobs | small requests |',
      '|---|---|---|',
      ...rows.map(
        (r) => `| ${r.name} | ${cores(r.blobCpu, r.blobSeconds, r)} | ${cores(r.smallCpu, r.smallSeconds, r)} |`,
      ),
      '',
      `2 workers / 1 worker: blobs ${(two.mbps / one.mbps).toFixed(2)}x, small requests ${(two.rps / one.rps).toFixed(2)}x (target 1.6x).`,
      ...rows
        .slice(2, SCHED_BOTH ? 3 : 2)
        .map(
          (r) =>
            `${r.name} / 1 worker: blobs ${(r.mbps / one.mbps).toFixed(2)}x, small requests ${(r.rps / one.rps).toFixed(2)}x.`,
        ),
      `2 workers / nginx: blobs ${(two.mbps / nginx.mbps).toFixed(2)}x, small requests ${(two.rps / nginx.rps).toFixed(2)}x.`,
      '',
      // The load generator shares the 2 cores: at the CPU per unit measured for 2 workers (S) and
      // for the load generator (C), 2 cores cannot do more than 2 / (S + C), however the gateway scales.
      `Ceiling on this machine at the measured CPU per unit of 2 workers plus load generator (2 cores / (S + C)): blobs ${ceilingMbps.toFixed(0)} MB/s = ${(ceilingMbps / one.mbps).toFixed(2)}x 1 worker, small requests ${ceilingRps.toFixed(0)} req/s = ${(ceilingRps / one.rps).toFixed(2)}x 1 worker.`,
      `Gateway work per CPU-second, 2 workers / 1 worker (1.00 = no cost for running a group): blobs ${(one.cpuPerGB / two.cpuPerGB).toFixed(2)}, small requests ${(two.perCore / one.perCore).toFixed(2)}.`,
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
