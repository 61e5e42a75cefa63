#!/usr/bin/env node
// What one `docker search` costs against store size: `GET /v1/search?q=…&n=25` (what the docker
// daemon sends) on the embedded core (filesystem), at 1k and 10k repositories (nested names,
// org<k>/app<i>, three tags each), sequential requests, wall time and server CPU per request.
// The store is written directly on disk in portcullis' layout with its catalog index (as
// bench/listing.js does; pushing 10k images would take an hour).
//
// Two figures per size: the first search after start (it reads what the search keeps: every name,
// or, before docker search used the repository search, every name and every tag, which it did
// again every 30 s), then searches in turn for one name, for 1% of the names (a full page of 25)
// and for nothing. BENCH_ROOTS=/old/checkout,/new/checkout measures several built checkouts on the
// same stores in one run (the version before, to compare; default this one); BENCH_SIZES=1000,10000;
// results in bench/results/docker-search-latest.md.
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, stopAll, cpuSeconds, httpDo, median, runBench } from './lib/sys.js';
import { startPortcullis } from './lib/targets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOTS = (process.env.BENCH_ROOTS ?? ROOT).split(',');
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 30);
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const TAGS = ['latest', 'v1', 'v2'];

const names = (n) =>
  Array.from({ length: n }, (_, i) => `org${String(i % 100).padStart(2, '0')}/app${String(i).padStart(6, '0')}`);
/** The catalog index entry of a name (src/registry/repository-index.ts): '/'→'0', '0'..'8'→'1'..'9', '9'→'='. */
const encodeName = (name) =>
  name.replace(/[/0-9]/g, (c) => (c === '/' ? '0' : c === '9' ? '=' : String(Number(c) + 1)));

function writeStore(root, repos) {
  const doc = JSON.stringify({
    digest: DIGEST,
    revision: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500 },
  });
  const index = join(root, 'meta', '_index', 'repositories');
  mkdirSync(index, { recursive: true });
  for (const name of repos) {
    const tagDir = join(root, 'meta', 'repositories', name, '_manifests', 'tags');
    mkdirSync(tagDir, { recursive: true });
    for (const t of TAGS) writeFileSync(join(tagDir, t), doc);
    writeFileSync(join(index, encodeName(name)), '');
  }
  writeFileSync(join(root, 'meta', '_index', 'repositories-complete'), new Date().toISOString());
}

async function one(url, pid, path) {
  const cpu0 = cpuSeconds([pid]);
  const t0 = process.hrtime.bigint();
  const r = await httpDo(`${url}${path}`, { timeoutMs: 600_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body.slice(0, 200)}`);
  return { ms, cpuMs: (cpuSeconds([pid]) - cpu0) * 1000, results: JSON.parse(r.body).results.length };
}

async function main() {
  const load = loadavg()[0];
  const rows = [];
  for (const n of SIZES) {
    const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), `bench-docker-search-${n}-`));
    try {
      const repos = names(n);
      writeStore(join(dir, 'store'), repos);
      log(`wrote ${n} repositories with ${TAGS.length} tags each`);
      for (const root of ROOTS) {
        const { handle: p, url } = await startPortcullis(root, { storage: join(dir, 'store'), name: root });
        const search = (q) => `/v1/search?q=${encodeURIComponent(q)}&n=25`;
        const first = await one(url, p.pid, search('app000042'));
        const paths = ['app000042', 's99/app', 'zzz'].map(search);
        const wall = [];
        const cpu0 = cpuSeconds([p.pid]);
        for (let i = 0; i < REQUESTS; i++) wall.push((await one(url, p.pid, paths[i % paths.length])).ms);
        const cpuMs = ((cpuSeconds([p.pid]) - cpu0) * 1000) / REQUESTS;
        const sorted = [...wall].sort((a, b) => a - b);
        rows.push({ n, root, first, median: median(wall), p90: sorted[Math.floor(sorted.length * 0.9)], cpuMs });
        log(
          `${n} ${root}: first ${first.ms.toFixed(0)} ms (CPU ${first.cpuMs.toFixed(0)} ms), then median ${median(wall).toFixed(1)} ms, CPU ${cpuMs.toFixed(2)} ms/req`,
        );
        await stopAll();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const lines = [
    `# docker search cost against store size (${new Date().toISOString().slice(0, 10)})`,
    '',
    `${cpus().length} CPUs, load average ${load.toFixed(1)} at the start${load > 1 ? ' (busy machine: wall times are noisy; CPU per request is steadier)' : ''}. \`/v1/search?q=…&n=25\`, ${REQUESTS} sequential requests after the first, in turn for one name, 1% of the names, none.`,
    '',
    '| repositories | checkout | first search | CPU | then, median (p90) | CPU per request |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString('en')} | ${r.root} | ${r.first.ms.toFixed(0)} ms | ${r.first.cpuMs.toFixed(0)} ms | ${r.median.toFixed(1)} ms (${r.p90.toFixed(1)}) | ${r.cpuMs.toFixed(2)} ms |`,
    ),
    '',
  ];
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(join(ROOT, 'bench', 'results', 'docker-search-latest.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

runBench(main);
