#!/usr/bin/env node
// Listing cost against store size (npm run bench:listing): a page of 100 from `_catalog` and
// from `tags/list`, portcullis (embedded, filesystem) next to registry:2 on the same names,
// at 1k, 10k and 100k repositories (nested names, org<k>/app<i>) and 10,000 tags in one.
// Both stores are written directly on disk in each server's own layout (pushing 100k images
// would take hours); the manifests they point at are not needed to list names.
// Sequential requests; median and p90 wall time and server CPU per request.
// BENCH_SIZES=1000,10000 to choose; results in bench/results/listing-latest.md.
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  log,
  stopAll,
  killAllSync,
  cpuSeconds,
  httpDo,
  startProcess,
  waitForHttp,
  freePort,
  median,
} from './lib/sys.js';
import { startRegistry2 } from './lib/targets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const TAGS = 10_000;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const names = (n) =>
  Array.from({ length: n }, (_, i) => `org${String(i % 100).padStart(2, '0')}/app${String(i).padStart(6, '0')}`);
const tags = Array.from({ length: TAGS }, (_, i) => `t${String(i).padStart(5, '0')}`);

async function inBatches(items, fn, width = 64) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

/** portcullis: meta/repositories/<name>/_manifests/tags/<tag> holds the tag document. */
async function writePortcullis(root, repos) {
  const doc = JSON.stringify({
    digest: DIGEST,
    revision: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500 },
  });
  const tagDir = (name) => join(root, 'meta', 'repositories', name, '_manifests', 'tags');
  await inBatches(repos, async (name) => {
    await mkdir(tagDir(name), { recursive: true });
    await writeFile(join(tagDir(name), 'latest'), doc);
  });
  await inBatches(tags, (t) => writeFile(join(tagDir(repos[0]), t), doc));
}

/** registry:2: repositories/<name>/_manifests/tags/<tag>/current/link holds the digest. */
async function writeRegistry2(root, repos) {
  const base = join(root, 'docker', 'registry', 'v2', 'repositories');
  const link = async (name, tag) => {
    const d = join(base, name, '_manifests', 'tags', tag, 'current');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'link'), DIGEST);
  };
  await inBatches(repos, (name) => link(name, 'latest'));
  await inBatches(tags, (t) => link(repos[0], t));
}

async function measure(url, pid, paths) {
  const wall = [];
  const cpu0 = cpuSeconds([pid]);
  for (let i = 0; i < REQUESTS; i++) {
    const path = paths[i % paths.length];
    const t0 = process.hrtime.bigint();
    const r = await httpDo(`${url}${path}`, { timeoutMs: 120_000 });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  const cpuMs = ((cpuSeconds([pid]) - cpu0) * 1000) / REQUESTS;
  wall.sort((a, b) => a - b);
  return { median: median(wall), p90: wall[Math.floor(wall.length * 0.9)], cpuMs };
}

const fmt = (m) => `${m.median.toFixed(1)} ms (p90 ${m.p90.toFixed(1)}, CPU ${m.cpuMs.toFixed(2)} ms/req)`;

async function writeReport(rows, load) {
  const lines = [
    `# Listing cost against store size (${new Date().toISOString().slice(0, 10)})`,
    '',
    `${cpus().length} CPUs, load average ${load.toFixed(1)} at the start${load > 1 ? ' (busy machine: wall times are noisy; CPU per request is steadier)' : ''}. ${REQUESTS} sequential requests per cell, pages of 100 starting at 10%..90% of the names.`,
    '',
    '| repositories | portcullis `_catalog?n=100&last=…` | registry:2 | portcullis `tags/list?n=100&last=…` (10,000 tags) | registry:2 | portcullis one-time index build |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString('en')} | ${fmt(r.pCatalog)} | ${fmt(r.rCatalog)} | ${fmt(r.pTags)} | ${fmt(r.rTags)} | ${r.indexMs.toFixed(0)} ms |`,
    ),
    '',
  ];
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(join(ROOT, 'bench', 'results', 'listing-latest.md'), lines.join('\n'));
  return lines.join('\n');
}

async function main() {
  const rows = [];
  const load = loadavg()[0];
  for (const n of SIZES) {
    const dir = await mkdtemp(join(tmpdir(), `bench-listing-${n}-`));
    try {
      const repos = names(n);
      log(`writing ${n} repositories (+${TAGS} tags in one) for both servers`);
      await writePortcullis(join(dir, 'portcullis'), repos);
      await writeRegistry2(join(dir, 'r2', 'data'), repos);
      const sorted = [...repos].sort();
      const mid = (k) => encodeURIComponent(sorted[Math.floor((sorted.length * k) / 10)]);
      const catalogPaths = Array.from({ length: 9 }, (_, k) => `/v2/_catalog?n=100&last=${mid(k + 1)}`);
      const tagPaths = ['t01000', 't05000', 't09000'].map((t) => `/v2/${repos[0]}/tags/list?n=100&last=${t}`);

      const port = await freePort();
      const p = startProcess('portcullis', process.execPath, [
        join(ROOT, 'dist', 'bin', 'portcullis.js'),
        '--listen',
        `127.0.0.1:${port}`,
        '--storage',
        join(dir, 'portcullis'),
        '--access-log',
        'off',
        '--log-level',
        'warn',
      ]);
      const pUrl = `http://127.0.0.1:${port}`;
      await waitForHttp(`${pUrl}/v2/`, 20_000, p);
      const t0 = process.hrtime.bigint();
      await httpDo(`${pUrl}/v2/_catalog?n=1`, { timeoutMs: 600_000 });
      const indexMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const pCatalog = await measure(pUrl, p.pid, catalogPaths);
      const pTags = await measure(pUrl, p.pid, tagPaths);
      await p.stop();

      const r2 = await startRegistry2(join(dir, 'r2'));
      const rCatalog = await measure(r2.url, r2.handle.pid, catalogPaths);
      const rTags = await measure(r2.url, r2.handle.pid, tagPaths);
      await r2.handle.stop();
      rows.push({ n, indexMs, pCatalog, pTags, rCatalog, rTags });
      log(
        `${n}: catalog page ${fmt(pCatalog)} vs registry:2 ${fmt(rCatalog)}; tags page ${fmt(pTags)} vs ${fmt(rTags)}; one-time index ${indexMs.toFixed(0)} ms`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(await writeReport(rows, load));
}

process.on('SIGINT', () => {
  killAllSync();
  process.exit(130);
});
main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
