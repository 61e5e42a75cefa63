#!/usr/bin/env node
// How long a store written before the catalog index existed takes to get its index (the core
// builds it in the background from the first listing on): BENCH_REPOSITORIES (default 100,000)
// repositories named org<k>/app<i> written directly on disk without an index, then the walk of
// the tree alone, then the whole build (walk and index entries), wall time and this process's
// CPU. BENCH_OLD=1 writes each entry the way it used to be written (one durable write each: a
// stat, a temporary file, a rename and two fsyncs). BENCH_DIR=/dev/shm to keep it in memory.
// Needs `npm run build`; run it inside `flock /tmp/portcullis-bench.lock`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { FilesystemStorage } = await import(join(ROOT, 'dist', 'src', 'registry', 'index.js'));
const { RepositoryStore } = await import(join(ROOT, 'dist', 'src', 'registry', 'repository.js'));
const N = Number(process.env.BENCH_REPOSITORIES ?? 100_000);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'bench-index-build-'));
const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1);
try {
  let t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const name = `org${String(i % 100).padStart(2, '0')}/app${String(i).padStart(6, '0')}`;
    const tags = join(dir, 'meta', 'repositories', name, '_manifests', 'tags');
    mkdirSync(tags, { recursive: true });
    writeFileSync(join(tags, 'latest'), '{}');
  }
  console.log(`wrote ${N} repositories in ${seconds(t0)} s`);
  const storage = new FilesystemStorage(dir);
  if (process.env.BENCH_OLD === '1') storage.createEmptyMeta = undefined;
  const store = new RepositoryStore(storage);
  const cpu0 = process.cpuUsage();
  t0 = Date.now();
  const names = await store.listRepositories();
  console.log(`walk: ${names.length} repositories in ${seconds(t0)} s`);
  t0 = Date.now();
  if (!(await store.index.built())) throw new Error('the index was not built');
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `build (walk and entries${process.env.BENCH_OLD === '1' ? ', one durable write each' : ''}): ${seconds(t0)} s; CPU for walk and build ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
