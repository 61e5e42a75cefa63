#!/usr/bin/env node
// CPU profile of portcullis on the small-request workloads: starts registry:2 and portcullis under
// `node --cpu-prof`, warms up, runs GET /v2/ (wrk) and HEAD manifest by tag (ab) against it, stops it
// with SIGTERM (the profile is written on exit) and summarizes self time per function and per module
// for the samples inside the measured window. Output: markdown on stdout and
// bench/results/profile-latest.md; the .cpuprofile files stay in BENCH_PROFILE_DIR if set.
//   node bench/profile.js            (after npm run build)
import { mkdtemp, rm, mkdir, writeFile, readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { log, stopAll, runBench, processMeter } from './lib/sys.js';
import { ensureTools, makeHtpasswd, makeCert, startRegistry2, startPortcullis } from './lib/targets.js';
import { probeSkopeoIsolation, push, wrk, abHead, getBlob } from './lib/workloads.js';
import { machineDetails, backgroundLoad } from './lib/report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WRK_WARMUP ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const BLOB_MB = Number(process.env.BENCH_PROFILE_BLOB_MB ?? 256);
const INTERVAL_US = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 500);
// e.g. BENCH_PROFILE_ONLY=blob: only the runs whose label contains one of these strings (separated by |)
const ONLY = (process.env.BENCH_PROFILE_ONLY ?? '').split('|').filter(Boolean);
const wanted = (label) => ONLY.length === 0 || ONLY.some((w) => label.toLowerCase().includes(w.toLowerCase()));

/** Self time per callFrame from a .cpuprofile, counting only samples with timestamps in [fromUs, toUs]. */
export function summarize(profile, fromUs = -Infinity, toUs = Infinity) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  let t = profile.startTime;
  let inWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    // each sample stands for the time until the next one
    const dt = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    inWindow++;
  }
  const fn = new Map();
  const mod = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const file = shortUrl(cf.url);
    const key = `${name} ${file ? `${file}:${cf.lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = moduleOf(cf.url, name);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const sort = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { total, idle, samples: inWindow, functions: sort(fn), modules: sort(mod) };
}

function shortUrl(url) {
  if (!url) return '';
  return url
    .replace(/^file:\/\//, '')
    .replace(`${ROOT}/`, '')
    .replace(/^.*node_modules\//, 'node_modules/');
}

function moduleOf(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native/builtin)';
  const u = shortUrl(url);
  if (u.startsWith('node_modules/'))
    return u
      .split('/')
      .slice(0, u.split('/')[1].startsWith('@') ? 3 : 2)
      .join('/');
  if (u.startsWith('node:'))
    return u
      .replace(/^node:internal\//, 'node:')
      .replace(/\/[^/]*$/, (s) => s)
      .split('/')
      .slice(0, 2)
      .join('/');
  if (u.startsWith('dist/')) return u;
  return u;
}

async function profileRun({ label, work, htpasswd, tls, upstream, storage, load }) {
  if (!wanted(label)) return null;
  const dir = join(work, 'prof', label.replace(/\W+/g, '-'));
  await mkdir(dir, { recursive: true });
  const pc = await startPortcullis(ROOT, {
    upstream,
    storage,
    htpasswd,
    tls,
    extraNodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', String(INTERVAL_US)],
  });
  const pid = pc.handle.pid;
  await load(pc, WARMUP);
  const meter = processMeter([pid]);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r = await load(pc, SECONDS);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const { cpu, peak: rss } = meter.stop();
  await pc.handle.stop('SIGTERM', 15_000);
  const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`${label}: no .cpuprofile written in ${dir}`);
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8'));
  let s = summarize(profile, fromUs, toUs);
  let windowed = true;
  if (s.samples < 100) {
    s = summarize(profile);
    windowed = false;
  } // clocks did not line up: whole profile
  if (process.env.BENCH_PROFILE_DIR) {
    await mkdir(process.env.BENCH_PROFILE_DIR, { recursive: true });
    await writeFile(
      join(process.env.BENCH_PROFILE_DIR, `${label.replace(/\W+/g, '-')}.cpuprofile`),
      JSON.stringify(profile),
    );
  }
  return {
    label,
    rps: r.requests / r.seconds,
    bytes: r.bytes,
    mbps: r.bytes ? r.bytes / 1e6 / r.seconds : null,
    cpuPerGB: r.bytes ? cpu / (r.bytes / 1e9) : null,
    requests: r.requests,
    cpuPerReqMs: (cpu / r.requests) * 1000,
    rss,
    s,
    windowed,
  };
}

function render(runs, machine, bg) {
  const L = [];
  L.push(`# portcullis CPU profile (small requests and blob GET), ${machine.date.slice(0, 10)}`, '');
  L.push(
    `node --cpu-prof (sampling every ${INTERVAL_US} µs) on the portcullis process; ${SECONDS} s measured after ${WARMUP} s warm-up, ${CONNECTIONS} connections, TLS, bcrypt (cost 5) basic auth, access log off. ` +
      `Only samples inside the measured window are counted. Machine: ${machine.nproc} × ${machine.cpu}, node ${machine.node}; background CPU busy before start ${(bg * 100).toFixed(0)}% (shared machine, noisy).`,
    '',
  );
  for (const r of runs.filter(Boolean)) {
    const pct = (us) => `${((us / r.s.total) * 100).toFixed(1)}%`;
    const perReq = (us) => `${(us / r.requests).toFixed(1)} µs`;
    L.push(`## ${r.label}`, '');
    if (r.bytes)
      L.push(
        `${r.requests} ${r.label.startsWith('push') ? 'pushes' : 'GETs'}, ${r.mbps.toFixed(0)} MB/s, portcullis CPU ${r.cpuPerGB.toFixed(2)} s/GB (/proc); "per request" below is per ${r.label.startsWith('push') ? 'push of the whole image' : 'GET of the whole blob'}.`,
        '',
      );
    L.push(
      `${r.rps.toFixed(r.bytes ? 2 : 0)} req/s; portcullis CPU ${r.cpuPerReqMs.toFixed(3)} ms/request (/proc); profiled busy time ${(r.s.total / 1e6).toFixed(2)} s = ${perReq(r.s.total)}/request, idle ${(r.s.idle / 1e6).toFixed(2)} s; peak RSS ${(r.rss / 1048576).toFixed(0)} MiB${r.windowed ? '' : ' (whole profile: window did not match)'}.`,
      '',
    );
    L.push('| self time by module | share | per request |', '|---|---|---|');
    for (const [m, us] of r.s.modules.slice(0, 15)) L.push(`| ${m} | ${pct(us)} | ${perReq(us)} |`);
    L.push('', '| top self-time functions | share | per request |', '|---|---|---|');
    for (const [f, us] of r.s.functions.slice(0, 25)) L.push(`| \`${f}\` | ${pct(us)} | ${perReq(us)} |`);
    L.push('');
  }
  return L.join('\n');
}

async function main() {
  const watchdog = setTimeout(() => {
    log('profile: time limit reached');
    stopAll().finally(() => process.exit(3));
  }, 10 * 60_000);
  watchdog.unref();
  await ensureTools();
  await probeSkopeoIsolation();
  const helper = join(ROOT, 'dist', 'test', 'helpers', 'oci-image.js');
  if (!existsSync(helper)) throw new Error('dist/ is missing: run `npm run build`');
  const { makeOciImage } = await import(pathToFileURL(helper).href);
  const work = await mkdtemp(join(tmpdir(), 'portcullis-prof-'));
  try {
    const bg = await backgroundLoad(2000);
    const gen = await makeOciImage(join(work, 'image'), { layerSizes: [BLOB_MB << 20] });
    const image = { ...gen, totalBytes: 0 };
    const htpasswd = await makeHtpasswd(work);
    const tls = await makeCert(work);
    const reg = await startRegistry2(join(work, 'registry2'));
    const repo = 'bench/profile';
    const direct = { name: 'registry:2', url: reg.url, auth: false };
    await push(direct, { image, repo, tmp: join(work, 'skopeo1'), timeoutMs: 120_000 });
    const v2 = (pc, seconds) =>
      wrk(
        { name: 'portcullis', url: pc.url, auth: true },
        { path: '/v2/', method: 'GET', seconds, connections: CONNECTIONS },
      );
    const head = (pc, seconds) =>
      abHead(
        { name: 'portcullis', url: pc.url, auth: true },
        { path: `/v2/${repo}/manifests/v1`, seconds, connections: CONNECTIONS },
      );
    // blob GET: curl of the big layer, repeated until the time is up
    const blobLoad = async (pc, seconds) => {
      const end = Date.now() + seconds * 1000;
      let requests = 0;
      let bytes = 0;
      let secs = 0;
      do {
        const r = await getBlob(
          { name: 'portcullis', url: pc.url, auth: true },
          { repo, blob: gen.layers[0], timeoutMs: 120_000 },
        );
        requests++;
        bytes += r.bytes;
        secs += r.seconds;
      } while (Date.now() < end);
      return { requests, seconds: secs, bytes };
    };
    // push: skopeo push of the image into a fresh repository, repeated until the time is up
    let pushes = 0;
    const pushLoad = async (pc, seconds) => {
      const end = Date.now() + seconds * 1000;
      let requests = 0;
      let bytes = 0;
      let secs = 0;
      do {
        pushes++;
        const r = await push(
          { name: 'portcullis', url: pc.url, auth: true },
          { image: gen, repo: `bench/push${pushes}`, tmp: join(work, `skopeo-push${pushes}`), timeoutMs: 120_000 },
        );
        requests++;
        bytes += r.bytes;
        secs += r.seconds;
      } while (Date.now() < end);
      return { requests, seconds: secs, bytes };
    };
    gen.totalBytes = gen.layers.reduce((n, l) => n + l.size, gen.config.size);
    const runs = [];
    runs.push(
      await profileRun({
        label: `push ${BLOB_MB} MiB image, portcullis → registry:2 (skopeo)`,
        work,
        reg,
        htpasswd,
        tls,
        upstream: reg.url,
        load: pushLoad,
      }),
    );
    runs.push(
      await profileRun({
        label: 'GET /v2/, portcullis → registry:2 (wrk)',
        work,
        reg,
        htpasswd,
        tls,
        upstream: reg.url,
        load: v2,
      }),
    );
    runs.push(
      await profileRun({
        label: 'HEAD manifest by tag, portcullis → registry:2 (ab)',
        work,
        reg,
        htpasswd,
        tls,
        upstream: reg.url,
        load: head,
      }),
    );
    runs.push(
      await profileRun({
        label: `GET one ${BLOB_MB} MiB blob, portcullis → registry:2 (curl)`,
        work,
        reg,
        htpasswd,
        tls,
        upstream: reg.url,
        load: blobLoad,
      }),
    );
    // embedded: push the same image into its storage first
    const storage = join(work, 'embedded');
    const pcSeed = await startPortcullis(ROOT, { storage, htpasswd, tls });
    await push(
      { name: 'embedded', url: pcSeed.url, auth: true },
      { image, repo, tmp: join(work, 'skopeo2'), timeoutMs: 120_000 },
    );
    await pcSeed.handle.stop();
    runs.push(
      await profileRun({
        label: `push ${BLOB_MB} MiB image, portcullis embedded (skopeo)`,
        work,
        reg,
        htpasswd,
        tls,
        storage,
        load: pushLoad,
      }),
    );
    runs.push(
      await profileRun({ label: 'GET /v2/, portcullis embedded (wrk)', work, reg, htpasswd, tls, storage, load: v2 }),
    );
    runs.push(
      await profileRun({
        label: 'HEAD manifest by tag, portcullis embedded (ab)',
        work,
        reg,
        htpasswd,
        tls,
        storage,
        load: head,
      }),
    );
    runs.push(
      await profileRun({
        label: `GET one ${BLOB_MB} MiB blob, portcullis embedded (curl)`,
        work,
        reg,
        htpasswd,
        tls,
        storage,
        load: blobLoad,
      }),
    );
    const md = render(runs, await machineDetails(), bg);
    console.log(md);
    await mkdir(join(HERE, 'results'), { recursive: true });
    await writeFile(join(HERE, 'results', 'profile-latest.md'), md);
  } finally {
    await stopAll();
    if (process.env.BENCH_KEEP !== '1') await rm(work, { recursive: true, force: true });
  }
}

runBench(main);
