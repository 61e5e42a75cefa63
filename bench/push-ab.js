#!/usr/bin/env node
// A/B of two builds of portcullis on pushes (skopeo, one layer, TLS, basic auth), proxied to
// registry:2 and embedded, alternating A and B in one window so both see the same background
// load: gateway CPU s/GB (/proc, user and system), MB/s, and registry:2's CPU s/GB behind it.
//   BENCH_AB='/path/to/checkout-a,/path/to/checkout-b' node bench/push-ab.js   (each built)
//   BENCH_AB_ROUNDS=4 BENCH_AB_MB=256 BENCH_AB_BACKENDS=proxied,embedded
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { abSetup } from './lib/ab.js';
import { log, stopAll, runBench, processMeter, cpuSeconds, median } from './lib/sys.js';
import { makeHtpasswd, makeCert, startRegistry2, startPortcullis } from './lib/targets.js';
import { push } from './lib/workloads.js';
import { backgroundLoad } from './lib/report.js';

const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 4);
const MB = Number(process.env.BENCH_AB_MB ?? 256);
const BACKENDS = (process.env.BENCH_AB_BACKENDS ?? 'proxied,embedded').split(',');

async function main() {
  const { builds: BUILDS, makeOciImage, work } = await abSetup('push-ab');
  try {
    const gen = await makeOciImage(join(work, 'image'), { layerSizes: [MB << 20] });
    const image = { ...gen, totalBytes: gen.layers.reduce((n, l) => n + l.size, gen.config.size) };
    const htpasswd = await makeHtpasswd(work);
    const tls = await makeCert(work);
    const reg = await startRegistry2(join(work, 'registry2'));
    const results = Object.fromEntries(BACKENDS.map((k) => [k, BUILDS.map(() => [])]));
    const bg = [await backgroundLoad(2000)];
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A B, then B A: neither build always runs first in a round.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const kind of BACKENDS)
        for (const i of order) {
          const storage = join(work, `storage-${n}`);
          const pc = await startPortcullis(BUILDS[i], {
            upstream: kind === 'proxied' ? reg.url : undefined,
            storage,
            htpasswd,
            tls,
          });
          const target = { name: `build ${'AB'[i]}`, url: pc.url, auth: true };
          const meter = processMeter([pc.handle.pid]);
          const reg0 = cpuSeconds([reg.handle.pid]);
          const r = await push(target, {
            image,
            repo: `bench/ab${n}`,
            tmp: join(work, `skopeo${n}`),
            timeoutMs: 300_000,
          });
          const m = meter.stop();
          const gb = r.bytes / 1e9;
          const row = {
            mbps: r.bytes / 1e6 / r.seconds,
            s: m.cpu / gb,
            user: m.user / gb,
            sys: m.sys / gb,
            reg: kind === 'proxied' ? (cpuSeconds([reg.handle.pid]) - reg0) / gb : null,
          };
          results[kind][i].push(row);
          log(
            `round ${round + 1} ${kind} ${'AB'[i]}: ${row.mbps.toFixed(0)} MB/s, gateway ${row.s.toFixed(2)} s/GB (user ${row.user.toFixed(2)}, sys ${row.sys.toFixed(2)})${row.reg === null ? '' : `, registry:2 ${row.reg.toFixed(2)} s/GB`}`,
          );
          await pc.handle.stop('SIGTERM', 15_000);
          await rm(storage, { recursive: true, force: true });
          n++;
        }
    }
    bg.push(await backgroundLoad(2000));
    const L = [
      `# Push, A/B (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `skopeo copy of a ${MB} MiB layer, ${ROUNDS} rounds alternating; background CPU busy before/after ${bg.map((b) => `${(b * 100).toFixed(0)}%`).join(' / ')}.`,
      '',
      '| backend | build | MB/s (median) | gateway CPU s/GB (median, range) | user / sys (median) | registry:2 s/GB |',
      '|---|---|---|---|---|---|',
    ];
    for (const kind of BACKENDS)
      BUILDS.forEach((b, i) => {
        const rs = results[kind][i];
        const s = rs.map((r) => r.s);
        const reg = rs.map((r) => r.reg).filter((x) => x !== null);
        L.push(
          `| ${kind} | ${'AB'[i]} ${b} | ${median(rs.map((r) => r.mbps)).toFixed(0)} | ${median(s).toFixed(2)} (${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)}) | ${median(rs.map((r) => r.user)).toFixed(2)} / ${median(rs.map((r) => r.sys)).toFixed(2)} | ${reg.length ? median(reg).toFixed(2) : '–'} |`,
        );
      });
    console.log(L.join('\n'));
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

runBench(main);
