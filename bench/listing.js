#!/usr/bin/env node
// Listing cost against store size (npm run bench:listing): a page of 100 from `_catalog` and
// from `tags/list` (with `last`), and the repository browser's first screen (the page, the
// first catalog page of 1000 and the first usage page of 500, fetched as the browser does:
// the two API requests concurrently), portcullis (embedded, filesystem) next to registry:2 on
// the same names, at 1k, 10k and 100k repositories (nested names, org<k>/app<i>) and 10,000
// tags in one. Both stores are written directly on disk in each server's own layout with
// synchronous calls (pushing 100k images would take hours); the manifests they point at are
// not needed to list names. Portcullis is measured twice: once on a store without its index
// and usage documents (as an older version left it: the first catalog page), then with them
// (as this version writes them). Sequential requests; median and p90 wall time and server CPU
// per request; a cell stops after BENCH_REQUESTS requests or BENCH_CELL_SECONDS (at least 3).
// The repository search (`_portcullis/usage?n=500&q=…`, names containing the text anywhere) is
// measured on portcullis only (registry:2 has none): the first search, which reads every name
// once, then searches for one name, for 1% of the names (a full page) and for none (every name
// scanned).
// BENCH_SIZES=1000,10000 to choose; BENCH_DIR=/dev/shm to write the stores to memory (100k
// repositories are ~1.5 million files: minutes on a busy disk); results in bench/results/listing-latest.md.
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
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
const CELL_SECONDS = Number(process.env.BENCH_CELL_SECONDS ?? 45);
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const names = (n) =>
  Array.from({ length: n }, (_, i) => `org${String(i % 100).padStart(2, '0')}/app${String(i).padStart(6, '0')}`);
const tags = Array.from({ length: TAGS }, (_, i) => `t${String(i).padStart(5, '0')}`);

/** The catalog index entry of a name (src/registry/repository-index.ts): '/'→'0', '0'..'8'→'1'..'9', '9'→'='. */
const encodeName = (name) =>
  name.replace(/[/0-9]/g, (c) => (c === '/' ? '0' : c === '9' ? '=' : String(Number(c) + 1)));

/** portcullis: meta/repositories/<name>/_manifests/tags/<tag> holds the tag document. */
function writePortcullis(root, repos) {
  const doc = JSON.stringify({
    digest: DIGEST,
    revision: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500 },
  });
  const tagDir = (name) => join(root, 'meta', 'repositories', name, '_manifests', 'tags');
  for (const name of repos) {
    mkdirSync(tagDir(name), { recursive: true });
    writeFileSync(join(tagDir(name), 'latest'), doc);
  }
  for (const t of tags) writeFileSync(join(tagDir(repos[0]), t), doc);
}

/** What this version adds as it writes: the catalog index and each repository's usage figures. */
function writePortcullisIndex(root, repos) {
  const index = join(root, 'meta', '_index', 'repositories');
  mkdirSync(index, { recursive: true });
  for (const name of repos) {
    writeFileSync(join(index, encodeName(name)), '');
    const sizes = { v: 1, tags: name === repos[0] ? tags.length + 1 : 1, bytes: 0, manifests: {}, blobs: {} };
    writeFileSync(join(root, 'meta', 'repositories', name, '_sizes'), JSON.stringify(sizes));
  }
  writeFileSync(join(root, 'meta', '_index', 'repositories-complete'), new Date().toISOString());
  writeFileSync(join(root, 'meta', '_index', 'store-total'), JSON.stringify({ v: 1, bytes: 0, blobs: 0 }));
}

/** registry:2: repositories/<name>/_manifests/tags/<tag>/current/link holds the digest. */
function writeRegistry2(root, repos) {
  const base = join(root, 'docker', 'registry', 'v2', 'repositories');
  const link = (name, tag) => {
    const d = join(base, name, '_manifests', 'tags', tag, 'current');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'link'), DIGEST);
  };
  for (const name of repos) link(name, 'latest');
  for (const t of tags) link(repos[0], t);
}

async function measure(url, pid, paths) {
  const wall = [];
  const cpu0 = cpuSeconds([pid]);
  const t0cell = Date.now();
  for (let i = 0; i < REQUESTS && (i < 3 || Date.now() - t0cell < CELL_SECONDS * 1000); i++) {
    const path = paths[i % paths.length];
    const t0 = process.hrtime.bigint();
    const r = await httpDo(`${url}${path}`, { timeoutMs: 120_000 });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  const cpuMs = ((cpuSeconds([pid]) - cpu0) * 1000) / wall.length;
  wall.sort((a, b) => a - b);
  return { median: median(wall), p90: wall[Math.floor(wall.length * 0.9)], cpuMs, count: wall.length };
}

/**
 * The browser's first screen as the page asks for it: the page, then the store figures
 * (`usage?n=0`), then the first 500 repositories with their figures from the usage listing.
 * registry:2 has no usage listing, so there the page would read `_catalog?n=500`.
 */
async function firstScreen(url, pid, withPage) {
  const wall = [];
  const cpu0 = cpuSeconds([pid]);
  const t0cell = Date.now();
  for (let i = 0; i < 10 && (i < 2 || Date.now() - t0cell < CELL_SECONDS * 1000); i++) {
    const t0 = process.hrtime.bigint();
    let listing;
    if (withPage) {
      const page = await httpDo(`${url}/-/ui`, { timeoutMs: 120_000 });
      if (page.status !== 200) throw new Error(`/-/ui: ${page.status}`);
      const store = await httpDo(`${url}/v2/_portcullis/usage?n=0`, { timeoutMs: 600_000 });
      if (store.status !== 200) throw new Error(`usage?n=0: ${store.status} ${store.body.slice(0, 200)}`);
      listing = await httpDo(`${url}/v2/_portcullis/usage?n=500`, { timeoutMs: 600_000 });
    } else listing = await httpDo(`${url}/v2/_catalog?n=500`, { timeoutMs: 600_000 });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (listing.status !== 200) throw new Error(`first listing page: ${listing.status}`);
  }
  const cpuMs = ((cpuSeconds([pid]) - cpu0) * 1000) / wall.length;
  wall.sort((a, b) => a - b);
  return { median: median(wall), p90: wall[Math.floor(wall.length * 0.9)], cpuMs, count: wall.length };
}

const fmt = (m) =>
  `${m.median.toFixed(1)} ms (p90 ${m.p90.toFixed(1)}, CPU ${m.cpuMs.toFixed(2)} ms/req${m.count < REQUESTS ? `, ${m.count} req` : ''})`;

async function writeReport(rows, load, seconds) {
  const lines = [
    `# Listing cost against store size (${new Date().toISOString().slice(0, 10)})`,
    '',
    `${cpus().length} CPUs, stores in ${process.env.BENCH_DIR ?? tmpdir()}, load average ${load.toFixed(1)} at the start${load > 1 ? ' (busy machine: wall times are noisy; CPU per request is steadier)' : ''}; the run took ${seconds.toFixed(0)} s. Up to ${REQUESTS} sequential requests per cell (at most ${CELL_SECONDS} s, at least 3), pages of 100 starting at 10%..90% of the names. First screen, as the browser asks for it: \`/-/ui\`, then \`_portcullis/usage?n=0\` (store figures), then \`_portcullis/usage?n=500\` (the first 500 repositories with their figures); registry:2, which has no usage figures: \`_catalog?n=500\`. Search: \`_portcullis/usage?n=500&q=…\` for a text in one name, in 1% of the names and in none, in turn, after a first search that reads every name (its time in its own column); registry:2 has no search.`,
    '',
    '| repositories | portcullis `_catalog?n=100&last=…` | registry:2 | portcullis `tags/list?n=100&last=…` (10,000 tags) | registry:2 | portcullis first screen | registry:2 first screen | portcullis first `_catalog?n=100` on a store without its index | portcullis search `usage?n=500&q=…` (names containing the text) | portcullis first search |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString('en')} | ${fmt(r.pCatalog)} | ${fmt(r.rCatalog)} | ${fmt(r.pTags)} | ${fmt(r.rTags)} | ${fmt(r.pScreen)} | ${fmt(r.rScreen)} | ${r.oldFirstMs.toFixed(0)} ms | ${fmt(r.pSearch)} | ${r.firstSearchMs.toFixed(0)} ms |`,
    ),
    '',
  ];
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(join(ROOT, 'bench', 'results', 'listing-latest.md'), lines.join('\n'));
  return lines.join('\n');
}

async function startPortcullis(storage) {
  const port = await freePort();
  const p = startProcess('portcullis', process.execPath, [
    join(ROOT, 'dist', 'bin', 'portcullis.js'),
    '--listen',
    `127.0.0.1:${port}`,
    '--storage',
    storage,
    '--access-log',
    'off',
    '--log-level',
    'warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 20_000, p);
  return { p, url };
}

async function main() {
  const rows = [];
  const load = loadavg()[0];
  const started = Date.now();
  for (const n of SIZES) {
    const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), `bench-listing-${n}-`));
    try {
      const repos = names(n);
      let t0 = Date.now();
      writePortcullis(join(dir, 'portcullis'), repos);
      writeRegistry2(join(dir, 'r2', 'data'), repos);
      log(
        `wrote ${n} repositories (+${TAGS} tags in one) for both servers in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      const sorted = [...repos].sort();
      const mid = (k) => encodeURIComponent(sorted[Math.floor((sorted.length * k) / 10)]);
      const catalogPaths = Array.from({ length: 9 }, (_, k) => `/v2/_catalog?n=100&last=${mid(k + 1)}`);
      const tagPaths = ['t01000', 't05000', 't09000'].map((t) => `/v2/${repos[0]}/tags/list?n=100&last=${t}`);
      // One name (app000042), the 1% in org99 (a full page of 500 at 100k), none at all.
      const searchPaths = ['p000042', 's99/app', 'zzz'].map(
        (q) => `/v2/_portcullis/usage?n=500&q=${encodeURIComponent(q)}`,
      );

      // A store as an older version left it: the first page comes from a walk of the tree.
      let { p, url } = await startPortcullis(join(dir, 'portcullis'));
      const t1 = process.hrtime.bigint();
      const first = await httpDo(`${url}/v2/_catalog?n=100`, { timeoutMs: 600_000 });
      const oldFirstMs = Number(process.hrtime.bigint() - t1) / 1e6;
      if (first.status !== 200 || JSON.parse(first.body).repositories[0] !== sorted[0])
        throw new Error(`first page on an old store: ${first.status} ${first.body.slice(0, 200)}`);
      await p.stop();

      // The same store with what this version writes as it goes (index, usage figures).
      t0 = Date.now();
      writePortcullisIndex(join(dir, 'portcullis'), repos);
      log(`wrote the index and usage documents in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      ({ p, url } = await startPortcullis(join(dir, 'portcullis')));
      const pScreen = await firstScreen(url, p.pid, true);
      const t2 = process.hrtime.bigint();
      const firstSearch = await httpDo(`${url}${searchPaths[0]}`, { timeoutMs: 600_000 });
      const firstSearchMs = Number(process.hrtime.bigint() - t2) / 1e6;
      if (firstSearch.status !== 200 || JSON.parse(firstSearch.body).repositories[0]?.name !== repos[42])
        throw new Error(`first search: ${firstSearch.status} ${firstSearch.body.slice(0, 200)}`);
      const pSearch = await measure(url, p.pid, searchPaths);
      const pCatalog = await measure(url, p.pid, catalogPaths);
      const pTags = await measure(url, p.pid, tagPaths);
      await p.stop();

      const r2 = await startRegistry2(join(dir, 'r2'));
      const rCatalog = await measure(r2.url, r2.handle.pid, catalogPaths);
      const rTags = await measure(r2.url, r2.handle.pid, tagPaths);
      const rScreen = await firstScreen(r2.url, r2.handle.pid, false);
      await r2.handle.stop();
      rows.push({ n, oldFirstMs, pCatalog, pTags, pScreen, rCatalog, rTags, rScreen, pSearch, firstSearchMs });
      log(
        `${n}: catalog page ${fmt(pCatalog)} vs registry:2 ${fmt(rCatalog)}; tags page ${fmt(pTags)} vs ${fmt(rTags)}; first screen ${fmt(pScreen)} vs ${fmt(rScreen)}; search ${fmt(pSearch)} (first ${firstSearchMs.toFixed(0)} ms); old store first page ${oldFirstMs.toFixed(0)} ms`,
      );
      // Results after each size, so a cut-short run still leaves its figures.
      await writeReport(rows, load, (Date.now() - started) / 1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(await writeReport(rows, load, (Date.now() - started) / 1000));
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
