#!/usr/bin/env node
/**
 * The pull-through mirror benchmark: skopeo pulls of one image (BENCH_SIZE_MB, default 512 MiB,
 * one layer) in one run, every repetition with an empty mirror cache:
 *   - direct: from the remote itself (registry:2 behind a token-auth portcullis, the stand-in
 *     for Docker Hub that the tests use);
 *   - mirror cold: through portcullis --mirror with nothing cached (fetch, verify, store, stream);
 *   - mirror warm: the same pull again (served from the cache, no blob request to the remote);
 *   - own image: the same bytes pushed to that portcullis as its own image, pulled back.
 * Reported: median wall time and MB/s, and CPU seconds per GB of the mirror portcullis process
 * (utime+stime from /proc) and of the remote (its gateway and registry:2), with the background
 * load of the machine. Every pulled layer is hashed. Writes bench/results/mirror-<date>.md.
 * `npm run build && node bench/mirror.js` (BENCH_SIZE_MB, BENCH_REPS default 3).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { backgroundLoad, gitCommit } from './lib/report.js';
import { cpuSeconds, median, skopeo } from './lib/sys.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { makeOciImage, fileDigest } = await import(join(ROOT, 'dist/test/helpers/oci-image.js'));
const { startPortcullis, freePort, tempDir, removeDir } = await import(join(ROOT, 'dist/test/helpers/processes.js'));
const { startRemote, writeCredentials, REMOTE_USER, REMOTE_PASSWORD } = await import(
  join(ROOT, 'dist/test/helpers/mirror-remote.js')
);

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 512);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const log = (...a) => console.log(`[mirror ${new Date().toISOString().slice(11, 19)}]`, ...a);

const work = await tempDir('portcullis-bench-mirror-');
const remote = await startRemote();
const stops = [() => remote.stop(), () => removeDir(work)];
const rows = { direct: [], cold: [], warm: [], own: [] };
let bgBefore = 0;
let bgAfter = 0;
try {
  bgBefore = await backgroundLoad(3000);
  log(`background CPU busy: ${(bgBefore * 100).toFixed(0)}%`);
  const image = await makeOciImage(join(work, 'image'), { tag: 'v1', layerSizes: [SIZE_MB << 20] });
  // Our own image: as big, different bytes (the same bytes would already be in the mirror's storage).
  const ownImage = await makeOciImage(join(work, 'own'), { tag: 'v1', layerSizes: [SIZE_MB << 20] });
  // A small image pulled through each fresh mirror process first (untimed), so start-up work
  // (module loading, JIT, the first token) is not counted in the cold pull.
  const warmup = await makeOciImage(join(work, 'warmup'), { tag: 'v1', layerSizes: [1 << 20] });
  await remote.push(warmup.dir, 'v1', 'library/warmup:v1');
  const layer = image.layers[0].digest;
  const gb = image.layers[0].size / 1e9;
  await remote.push(image.dir, 'v1', 'library/big:v1');
  const creds = await writeCredentials(work, 'hub');

  const pullInto = async (name, src, extra, pids, digest = layer) => {
    const out = join(work, `out-${name}`);
    await rm(out, { recursive: true, force: true });
    const home = join(work, `home-${name}`);
    await mkdir(home, { recursive: true });
    const cpu0 = pids.map((p) => cpuSeconds(p));
    const t0 = process.hrtime.bigint();
    skopeo(['copy', '--quiet', ...extra, src, `oci:${out}:v1`], home);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = pids.map((p, i) => cpuSeconds(p) - cpu0[i]);
    const got = await fileDigest(join(out, 'blobs', 'sha256', digest.slice(7)));
    if (got !== digest) throw new Error(`${name}: pulled layer hashes to ${got}`);
    await rm(out, { recursive: true, force: true });
    return { s, mbps: SIZE_MB / s, cpu: cpu.map((c) => c / gb) };
  };

  for (let rep = 0; rep < REPS; rep++) {
    const storage = join(work, `storage-${rep}`);
    const host = `127.0.0.1:${await freePort()}`;
    const pc = await startPortcullis(
      ['--listen', host, '--storage', storage, '--mirror', `hub=${remote.url}`, '--mirror-credentials', creds],
      {
        probe: `http://${host}/_ping`,
        env: { PORTCULLIS_ACCESS_LOG: 'off', NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? '' },
      },
    );
    try {
      // An image of the same size pushed to this portcullis as its own (untimed).
      skopeo(
        ['copy', '--quiet', '--dest-tls-verify=false', `oci:${ownImage.dir}:v1`, `docker://${host}/own/big:v1`],
        join(work, 'home-push'),
      );
      skopeo(
        [
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${host}/hub/library/warmup:v1`,
          `oci:${join(work, 'wu')}:v1`,
        ],
        join(work, 'home-push'),
      );
      await rm(join(work, 'wu'), { recursive: true, force: true });
      const remotePids = remote.pids();
      const order = rep % 2 ? ['direct', 'mirror'] : ['mirror', 'direct'];
      for (const what of order) {
        if (what === 'direct') {
          const r = await pullInto(
            'direct',
            `docker://${remote.host}/library/big:v1`,
            ['--src-tls-verify=false', '--src-creds', `${REMOTE_USER}:${REMOTE_PASSWORD}`],
            [remotePids],
          );
          rows.direct.push({ ...r, remoteCpu: r.cpu[0] });
          log(`rep ${rep + 1} direct ${r.s.toFixed(2)} s`);
        } else {
          const before = await remote.blobGets(layer);
          const cold = await pullInto(
            'cold',
            `docker://${host}/hub/library/big:v1`,
            ['--src-tls-verify=false'],
            [[pc.pid], remotePids],
          );
          const warm = await pullInto(
            'warm',
            `docker://${host}/hub/library/big:v1`,
            ['--src-tls-verify=false'],
            [[pc.pid], remotePids],
          );
          const fetched = (await remote.blobGets(layer)) - before;
          if (fetched !== 1) throw new Error(`the layer was fetched ${fetched} times from the remote, expected once`);
          rows.cold.push({ ...cold, gwCpu: cold.cpu[0], remoteCpu: cold.cpu[1] });
          rows.warm.push({ ...warm, gwCpu: warm.cpu[0], remoteCpu: warm.cpu[1] });
          log(`rep ${rep + 1} cold ${cold.s.toFixed(2)} s, warm ${warm.s.toFixed(2)} s`);
        }
      }
      const own = await pullInto(
        'own',
        `docker://${host}/own/big:v1`,
        ['--src-tls-verify=false'],
        [[pc.pid]],
        ownImage.layers[0].digest,
      );
      rows.own.push({ ...own, gwCpu: own.cpu[0] });
      log(`rep ${rep + 1} own ${own.s.toFixed(2)} s`);
    } finally {
      await pc.stop();
      await removeDir(storage);
    }
  }
  bgAfter = await backgroundLoad(3000);
} finally {
  for (const s of stops.reverse()) await s().catch(() => {});
}

const fmt = (xs, f, d = 2) => {
  const v = xs.map(f).filter((x) => x !== undefined && Number.isFinite(x));
  if (!v.length) return '–';
  return `${median(v).toFixed(d)} (${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)})`;
};
const direct = median(rows.direct.map((r) => r.s));
const lines = [
  `# Pull-through mirror benchmark (${new Date().toISOString().slice(0, 16)}Z, commit ${await gitCommit()})`,
  '',
  `skopeo pull of a ${SIZE_MB} MiB single-layer image, ${REPS} repetitions (median, min–max), each with an empty mirror cache.`,
  `Remote: registry:2 behind a token-auth portcullis on loopback. Machine: ${spawnSync('nproc').stdout.toString().trim()} cores,`,
  `background CPU busy ${(bgBefore * 100).toFixed(0)}% before and ${(bgAfter * 100).toFixed(0)}% after (other work on the machine: wall times are noisy, CPU s/GB much less so).`,
  '',
  '| pull | seconds | MB/s | vs direct | mirror portcullis CPU s/GB | remote CPU s/GB |',
  '| --- | --- | --- | --- | --- | --- |',
  `| direct from the remote | ${fmt(rows.direct, (r) => r.s)} | ${fmt(rows.direct, (r) => r.mbps, 0)} | 1.00 | – | ${fmt(rows.direct, (r) => r.remoteCpu)} |`,
  `| mirror, cold | ${fmt(rows.cold, (r) => r.s)} | ${fmt(rows.cold, (r) => r.mbps, 0)} | ${(direct / median(rows.cold.map((r) => r.s))).toFixed(2)} | ${fmt(rows.cold, (r) => r.gwCpu)} | ${fmt(rows.cold, (r) => r.remoteCpu)} |`,
  `| mirror, warm | ${fmt(rows.warm, (r) => r.s)} | ${fmt(rows.warm, (r) => r.mbps, 0)} | ${(direct / median(rows.warm.map((r) => r.s))).toFixed(2)} | ${fmt(rows.warm, (r) => r.gwCpu)} | ${fmt(rows.warm, (r) => r.remoteCpu)} |`,
  `| portcullis, own image | ${fmt(rows.own, (r) => r.s)} | ${fmt(rows.own, (r) => r.mbps, 0)} | ${(direct / median(rows.own.map((r) => r.s))).toFixed(2)} | ${fmt(rows.own, (r) => r.gwCpu)} | – |`,
  '',
  '"vs direct" is speed relative to pulling from the remote directly (higher is faster). Each cold',
  'pull fetched the layer from the remote exactly once (checked on the remote access log); warm pulls fetched nothing.',
  '',
];
const md = lines.join('\n');
console.log(`\n${md}`);
if (process.env.BENCH_WRITE !== '0') {
  const dir = join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
  await writeFile(join(dir, `mirror-${stamp}.md`), md);
  await writeFile(join(dir, 'mirror-latest.md'), md);
  await writeFile(join(dir, `mirror-${stamp}.json`), JSON.stringify(rows, null, 2));
}
