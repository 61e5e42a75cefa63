#!/usr/bin/env node
// portcullis benchmark harness: registry:2 direct, nginx (seed and tuned) and portcullis
// (proxy and embedded) on loopback, interleaved repetitions, medians with min–max, ratios, gateway
// CPU per request and peak RSS; results in bench/results/<date>.md and bench/results/latest.md.
// `npm run bench` builds first; see bench/README.md for the knobs.
import { mkdtemp, rm, mkdir, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { log, stopAll, runBench, processTree, cpuSeconds, resetPeakRss, peakRss } from './lib/sys.js';
import { ensureTools, makeHtpasswd, makeCert, startRegistry2, startNginx, startPortcullis } from './lib/targets.js';
import {
  probeSkopeoIsolation,
  push,
  pull,
  getBlob,
  verifyBlobGet,
  wrk,
  abHead,
  checkHeadWorks,
} from './lib/workloads.js';
import { machineDetails, backgroundLoad, renderReport, gitCommit } from './lib/report.js';
import { cryptoFloors, floorCost, transferFloors } from './lib/floors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

const env = process.env;
const cfg = {
  sizeMB: Number(env.BENCH_SIZE_MB ?? 1024),
  layers: Math.max(1, Number(env.BENCH_LAYERS ?? 1)),
  reps: Math.max(1, Number(env.BENCH_REPS ?? 3)),
  wrkSeconds: Number(env.BENCH_WRK_SECONDS ?? 10),
  wrkWarmup: Number(env.BENCH_WRK_WARMUP ?? 2),
  connections: Number(env.BENCH_CONNECTIONS ?? 64),
  targets: env.BENCH_TARGETS ? env.BENCH_TARGETS.split(',') : null,
  workloads: env.BENCH_WORKLOADS ? env.BENCH_WORKLOADS.split(',') : null,
  write: env.BENCH_WRITE !== '0',
  keep: env.BENCH_KEEP === '1',
  note: env.BENCH_NOTE ?? '',
  outDir: env.BENCH_OUT ?? join(HERE, 'results'),
  headTool: env.BENCH_HEAD_TOOL === 'wrk' ? 'wrk' : 'ab',
  floors: env.BENCH_FLOORS !== '0',
};
// Generous upper bound for the whole run: transfers at >= 10 MB/s, wrk runs, startup.
const perTargetRep = (3 * cfg.sizeMB) / 10 + 2 * (cfg.wrkSeconds + cfg.wrkWarmup + 5) + 20;
cfg.timeoutMin = Number(env.BENCH_TIMEOUT_MIN ?? Math.ceil((perTargetRep * 5 * cfg.reps + 300 + cfg.sizeMB / 5) / 60));

const WORKLOADS = [
  { key: 'push', title: `push ${cfg.sizeMB} MiB image, skopeo`, unit: 'MB/s', kind: 'bytes' },
  { key: 'pull', title: `pull ${cfg.sizeMB} MiB image, skopeo`, unit: 'MB/s', kind: 'bytes' },
  { key: 'blob', title: `GET one ${Math.round(cfg.sizeMB / cfg.layers)} MiB blob, curl`, unit: 'MB/s', kind: 'bytes' },
  { key: 'v2', title: `GET /v2/ with basic auth, wrk -c${cfg.connections}`, unit: 'req/s', kind: 'requests' },
  {
    key: 'head',
    title: `HEAD manifest by tag with basic auth, ${cfg.headTool} -c${cfg.connections}`,
    unit: 'req/s',
    kind: 'requests',
  },
].filter((w) => !cfg.workloads || cfg.workloads.includes(w.key));

let work;

async function cleanup() {
  await stopAll();
  if (work && !cfg.keep) await rm(work, { recursive: true, force: true }).catch(() => {});
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: stopping every process`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main() {
  const watchdog = setTimeout(() => {
    log(`time limit of ${cfg.timeoutMin} min reached (BENCH_TIMEOUT_MIN); stopping`);
    cleanup().finally(() => process.exit(3));
  }, cfg.timeoutMin * 60_000);
  watchdog.unref();

  const t0 = Date.now();
  const commitAtStart = await gitCommit();
  log(`config: ${JSON.stringify(cfg)}`);
  await ensureTools();
  const isolation = await probeSkopeoIsolation();
  log(`skopeo blob-info cache: ${isolation}`);
  const helper = join(ROOT, 'dist', 'test', 'helpers', 'oci-image.js');
  if (!existsSync(helper) || !existsSync(join(ROOT, 'dist', 'bin', 'portcullis.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  const { makeOciImage } = await import(pathToFileURL(helper).href);

  work = await mkdtemp(join(tmpdir(), 'portcullis-bench-'));
  const bg = await backgroundLoad(3000);
  log(`background CPU busy before start: ${(bg * 100).toFixed(0)}% of all cores`);

  // The image: incompressible layers (gzip level 0) in an OCI layout.
  const total = cfg.sizeMB * 1024 * 1024;
  const sizes = Array.from(
    { length: cfg.layers },
    (_, i) => Math.floor(total / cfg.layers) + (i === 0 ? total % cfg.layers : 0),
  );
  log(`generating a ${cfg.sizeMB} MiB image in ${cfg.layers} layer(s)`);
  const gen = await makeOciImage(join(work, 'image'), { layerSizes: sizes, tag: 'latest' });
  const manifestSize = (await readFile(join(work, 'image', 'blobs', 'sha256', gen.manifest.digest.slice(7)))).length;
  const image = { ...gen, totalBytes: gen.layers.reduce((a, l) => a + l.size, 0) + gen.config.size + manifestSize };
  const bigBlob = [...gen.layers].sort((a, b) => b.size - a.size)[0];

  const htpasswd = await makeHtpasswd(work);
  const tls = await makeCert(work);
  const reg = await startRegistry2(join(work, 'registry2'));
  const all = [];
  all.push({
    key: 'direct',
    name: 'registry:2 direct',
    listener: 'HTTP, no auth',
    url: reg.url,
    auth: false,
    gw: () => [reg.handle.pid],
    reg: null,
    handle: reg.handle,
  });
  const seed = await startNginx(join(work, 'nginx-seed'), { kind: 'seed', upstreamPort: reg.port, htpasswd, tls });
  all.push({
    key: 'nginx-seed',
    name: 'nginx seed',
    listener: 'TLS, basic auth',
    url: seed.url,
    auth: true,
    gw: () => processTree(seed.handle.pid),
    reg: () => [reg.handle.pid],
    handle: seed.handle,
  });
  const tuned = await startNginx(join(work, 'nginx-tuned'), { kind: 'tuned', upstreamPort: reg.port, htpasswd, tls });
  all.push({
    key: 'nginx-tuned',
    name: 'nginx tuned',
    listener: 'TLS, basic auth',
    url: tuned.url,
    auth: true,
    gw: () => processTree(tuned.handle.pid),
    reg: () => [reg.handle.pid],
    handle: tuned.handle,
  });
  const pcProxy = await startPortcullis(ROOT, { upstream: reg.url, htpasswd, tls });
  all.push({
    key: 'pc-proxy',
    name: 'portcullis → registry:2',
    listener: 'TLS, basic auth',
    url: pcProxy.url,
    auth: true,
    gw: () => [pcProxy.handle.pid],
    reg: () => [reg.handle.pid],
    handle: pcProxy.handle,
  });
  const pcEmb = await startPortcullis(ROOT, { storage: join(work, 'embedded-storage'), htpasswd, tls });
  all.push({
    key: 'pc-embedded',
    name: 'portcullis embedded',
    listener: 'TLS, basic auth',
    url: pcEmb.url,
    auth: true,
    gw: () => [pcEmb.handle.pid],
    reg: null,
    handle: pcEmb.handle,
  });
  const targets = all.filter((t) => !cfg.targets || cfg.targets.includes(t.key));
  log(`targets: ${targets.map((t) => `${t.key}=${t.url}`).join(' ')}`);

  const transferTimeout = Math.max(120_000, cfg.sizeMB * 1000); // >= 1 MB/s
  const runId = randomBytes(3).toString('hex');
  const results = {}; // results[workload][target] = [{ value, gwCpu, regCpu, rss }]
  const floors = {}; // floors[key] = [{ what, sPerGB, user, sys }] over repetitions
  for (const w of WORKLOADS) {
    results[w.key] = {};
    for (const t of targets) results[w.key][t.key] = [];
  }

  async function measure(w, t, fn) {
    const gwPids = t.gw();
    for (const p of gwPids) if (!existsSync(`/proc/${p}`)) throw new Error(`${t.name} died:\n${t.handle.output()}`);
    const regPids = t.reg ? t.reg() : [];
    resetPeakRss(gwPids);
    const gw0 = cpuSeconds(gwPids);
    const reg0 = cpuSeconds(regPids);
    const r = await fn();
    const gwCpu = cpuSeconds(t.gw()) - gw0;
    const regCpu = t.reg ? cpuSeconds(regPids) - reg0 : null;
    const rss = peakRss(t.gw());
    const units = w.kind === 'bytes' ? r.bytes / 1e9 : r.requests; // CPU per GB or per request
    const rec = {
      value: w.kind === 'bytes' ? r.bytes / 1e6 / r.seconds : r.requests / r.seconds,
      gwCpu: gwCpu / units,
      regCpu: regCpu === null ? null : regCpu / units,
      rss,
      p50ms: r.p50ms,
      p99ms: r.p99ms,
    };
    results[w.key][t.key].push(rec);
    log(
      `  ${w.key.padEnd(5)} ${t.key.padEnd(12)} ${rec.value.toFixed(1)} ${w.unit}  gw CPU ${w.kind === 'bytes' ? `${rec.gwCpu.toFixed(2)} s/GB` : `${(rec.gwCpu * 1000).toFixed(3)} ms/req`}  peak RSS ${(rss / 1048576).toFixed(0)} MiB`,
    );
  }

  const has = (k) => WORKLOADS.some((w) => w.key === k);
  const wl = (k) => WORKLOADS.find((w) => w.key === k);
  for (let rep = 0; rep < cfg.reps; rep++) {
    // Interleaved: every workload runs for every target before the next workload; the target order
    // rotates by one each repetition so no target always goes first (A B C, B C A, C A B, ...).
    const order = targets.map((_, i) => targets[(i + rep) % targets.length]);
    log(`repetition ${rep + 1}/${cfg.reps}: ${order.map((t) => t.key).join(' ')}`);
    const repoOf = (t) => `bench/${runId}-r${rep + 1}-${t.key}`;
    const tmpOf = (t, what) => join(work, 'skopeo', `${rep}-${t.key}-${what}`);
    // push always runs (pull, blob GET and HEAD need this repetition's repository)
    for (const t of order) {
      const opts = { image, repo: repoOf(t), tmp: tmpOf(t, 'push'), timeoutMs: transferTimeout };
      if (has('push')) await measure(wl('push'), t, () => push(t, opts));
      else await push(t, opts);
      await rm(opts.tmp, { recursive: true, force: true });
    }
    if (has('pull'))
      for (const t of order) {
        const opts = {
          image,
          repo: repoOf(t),
          tmp: tmpOf(t, 'pull'),
          out: join(work, 'pulled'),
          timeoutMs: transferTimeout,
        };
        await measure(wl('pull'), t, () => pull(t, opts));
        await rm(opts.tmp, { recursive: true, force: true });
      }
    if (has('blob'))
      for (const t of order) {
        const opts = { repo: repoOf(t), blob: bigBlob, timeoutMs: transferTimeout };
        await measure(wl('blob'), t, () => getBlob(t, opts));
        await verifyBlobGet(t, opts);
      }
    for (const [key, method, path] of [
      ['v2', 'GET', () => '/v2/'],
      ['head', 'HEAD', (t) => `/v2/${repoOf(t)}/manifests/v1`],
    ]) {
      if (!has(key)) continue;
      for (const t of order) {
        await checkHeadWorks(t, repoOf(t));
        const load = method === 'HEAD' && cfg.headTool === 'ab' ? abHead : wrk;
        if (cfg.wrkWarmup > 0)
          await load(t, { path: path(t), method, seconds: cfg.wrkWarmup, connections: cfg.connections });
        await measure(wl(key), t, () =>
          load(t, { path: path(t), method, seconds: cfg.wrkSeconds, connections: cfg.connections }),
        );
      }
    }
    if (cfg.floors) {
      log('floors: bare Node https and TLS servers, nginx static file');
      const blob = join(work, 'image', 'blobs', 'sha256', bigBlob.digest.slice(7));
      const rows = await transferFloors(work, { blob, size: bigBlob.size, tls });
      if (rep === 0) rows.push(...(await cryptoFloors()));
      for (const r of rows) floors[r.key] = [...(floors[r.key] ?? []), r];
      log(`  ${rows.map((r) => `${r.key} ${floorCost(r).toFixed(2)}`).join(', ')} (s/GB; ms/req for the HEAD)`);
    }
  }

  const bgAfter = await backgroundLoad(3000);
  const machine = await machineDetails();
  machine.commit =
    commitAtStart === machine.commit
      ? commitAtStart
      : `${commitAtStart} at start, ${machine.commit} at end (dist/ as loaded at start)`;
  const minutes = (Date.now() - t0) / 60000;
  const md = renderReport({
    cfg,
    machine,
    results,
    floors,
    workloads: WORKLOADS,
    targets,
    image,
    bigBlob,
    isolation,
    bg,
    bgAfter,
    minutes,
  });
  console.log(md);
  if (cfg.write) {
    await mkdir(cfg.outDir, { recursive: true });
    const stamp = new Date().toISOString().slice(0, 10);
    let file = join(cfg.outDir, `${stamp}.md`);
    for (let i = 2; existsSync(file); i++) file = join(cfg.outDir, `${stamp}-${i}.md`);
    await writeFile(file, md);
    await writeFile(join(cfg.outDir, 'latest.md'), md);
    await writeFile(file.replace(/\.md$/, '.json'), JSON.stringify({ cfg, machine, results, floors }, null, 1));
    log(`wrote ${file} and ${join(cfg.outDir, 'latest.md')}`);
  }
}

runBench(main, cleanup);
