#!/usr/bin/env node
// A/B of two builds of portcullis on HEAD manifest by tag through the proxy (ab, keep-alive,
// TLS, basic auth, registry:2 behind), alternating A and B in one window so both see the same
// background load: gateway CPU ms per request (/proc), req/s, and registry:2's CPU per request.
//   BENCH_AB='/path/to/checkout-a,/path/to/checkout-b' node bench/head-ab.js   (each built)
//   BENCH_AB_ROUNDS=4 BENCH_AB_SECONDS=8 BENCH_CONNECTIONS=16
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { abSetup } from './lib/ab.js';
import { log, stopAll, runBench, processMeter, cpuSeconds, median } from './lib/sys.js';
import { makeHtpasswd, makeCert, startRegistry2, startPortcullis } from './lib/targets.js';
import { push, abHead } from './lib/workloads.js';
import { backgroundLoad } from './lib/report.js';

const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_AB_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

async function main() {
  const { builds: BUILDS, makeOciImage, work } = await abSetup('head-ab');
  try {
    const image = await makeOciImage(join(work, 'image'), { layerSizes: [1 << 20] });
    const htpasswd = await makeHtpasswd(work);
    const tls = await makeCert(work);
    const reg = await startRegistry2(join(work, 'registry2'));
    const repo = 'bench/head';
    await push(
      { name: 'registry:2', url: reg.url, auth: false },
      { image, repo, tmp: join(work, 'skopeo'), timeoutMs: 120_000 },
    );
    const results = BUILDS.map(() => []);
    const bg = [await backgroundLoad(2000)];
    for (let round = 0; round < ROUNDS; round++) {
      // A B, then B A: neither build always runs first in a round.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const pc = await startPortcullis(BUILDS[i], { upstream: reg.url, htpasswd, tls });
        const target = { name: `build ${'AB'[i]}`, url: pc.url, auth: true };
        const path = `/v2/${repo}/manifests/v1`;
        await abHead(target, { path, seconds: 2, connections: CONNECTIONS });
        const meter = processMeter([pc.handle.pid]);
        const reg0 = cpuSeconds([reg.handle.pid]);
        const r = await abHead(target, { path, seconds: SECONDS, connections: CONNECTIONS });
        const m = meter.stop();
        const regMs = ((cpuSeconds([reg.handle.pid]) - reg0) / r.requests) * 1000;
        const row = { rps: r.requests / r.seconds, ms: (m.cpu / r.requests) * 1000, regMs, peak: m.peak };
        results[i].push(row);
        log(
          `round ${round + 1} ${'AB'[i]}: ${row.rps.toFixed(0)} req/s, gateway ${row.ms.toFixed(3)} ms/req, registry:2 ${regMs.toFixed(3)} ms/req`,
        );
        await pc.handle.stop('SIGTERM', 15_000);
      }
    }
    bg.push(await backgroundLoad(2000));
    const L = [
      `# HEAD manifest by tag through the proxy, A/B (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `ab -k -c ${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} rounds alternating; background CPU busy before/after ${bg.map((b) => `${(b * 100).toFixed(0)}%`).join(' / ')}.`,
      '',
      '| build | req/s (median) | gateway ms CPU/request (median, range) | registry:2 ms CPU/request |',
      '|---|---|---|---|',
    ];
    BUILDS.forEach((b, i) => {
      const rs = results[i];
      const ms = rs.map((r) => r.ms);
      L.push(
        `| ${'AB'[i]} ${b} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(ms).toFixed(3)} (${Math.min(...ms).toFixed(3)}–${Math.max(...ms).toFixed(3)}) | ${median(rs.map((r) => r.regMs)).toFixed(3)} |`,
      );
    });
    console.log(L.join('\n'));
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

runBench(main);
