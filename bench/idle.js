#!/usr/bin/env node
// Idle memory of portcullis, embedded core and proxied to registry:2, over TLS with basic auth:
// VmRSS (and its anonymous and file-backed parts) 2 s after one authenticated GET /v2/, median
// over several starts. Each server runs with the node flags on the launcher's #! line, as the
// `portcullis` command, `npm start` and the Docker image do.
//   node bench/idle.js                                   (after npm run build; 5 starts each)
//   BENCH_IDLE_STARTS=7 node bench/idle.js
//   BENCH_IDLE_VARIANTS='launcher|--max-semi-space-size=16' node bench/idle.js
//   BENCH_IDLE_ROOTS=/checkout/a,/checkout/b node bench/idle.js   (two built checkouts, alternating)
// Variants are separated by `|`; each is `launcher` (nothing added), `bare` (node without the
// launcher's flags) or node flags added after the launcher's (so they override them); they run
// alternately, one start of each per round. An `ENV=value` word in a variant goes to the environment.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, runBench, httpDo, median } from './lib/sys.js';
import { ensureTools, makeHtpasswd, makeCert, startRegistry2, startPortcullis, BASIC } from './lib/targets.js';
import { backgroundLoad } from './lib/report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOTS = (process.env.BENCH_IDLE_ROOTS ?? process.env.BENCH_PORTCULLIS_ROOT ?? join(HERE, '..')).split(',');
const STARTS = Number(process.env.BENCH_IDLE_STARTS ?? 5);
const VARIANTS = (process.env.BENCH_IDLE_VARIANTS ?? 'launcher').split('|');
const KINDS = (process.env.BENCH_IDLE_KINDS ?? 'embedded,proxied').split(',');

/** VmRSS, RssAnon and RssFile of `pid` in kB. */
function rssParts(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)[1]);
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

async function main() {
  await ensureTools();
  const work = await mkdtemp(join(tmpdir(), 'portcullis-idle-'));
  try {
    const bg = await backgroundLoad(2000);
    const htpasswd = await makeHtpasswd(work);
    const tls = await makeCert(work);
    const reg = KINDS.includes('proxied') ? await startRegistry2(join(work, 'registry2')) : null;
    const samples = new Map();
    for (let round = 0; round < STARTS; round++) {
      for (const [b, root] of ROOTS.entries())
        for (const variant of VARIANTS) {
          const words = variant === 'launcher' || variant === 'bare' ? [] : variant.split(' ').filter(Boolean);
          const extraNodeArgs = words.filter((w) => w.startsWith('-'));
          const env = Object.fromEntries(words.filter((w) => !w.startsWith('-')).map((w) => w.split('=', 2)));
          for (const kind of KINDS) {
            const storage = join(work, `storage-${round}`);
            const pc = await startPortcullis(root, {
              upstream: kind === 'proxied' ? reg.url : undefined,
              storage,
              htpasswd,
              tls,
              extraNodeArgs,
              env,
              launcherFlags: variant !== 'bare',
            });
            const r = await httpDo(`${pc.url}/v2/`, { headers: { authorization: `Basic ${BASIC}` } });
            if (r.status !== 200) throw new Error(`${kind} ${variant}: GET /v2/ answered ${r.status}`);
            await new Promise((res) => setTimeout(res, 2000));
            const parts = rssParts(pc.handle.pid);
            const key = `${ROOTS.length > 1 ? `build ${b + 1} ` : ''}${variant} ${kind}`;
            samples.set(key, [...(samples.get(key) ?? []), parts]);
            log(`${key}: VmRSS ${parts.rss} kB (anon ${parts.anon}, file ${parts.file})`);
            await pc.handle.stop('SIGTERM', 15_000);
            await rm(storage, { recursive: true, force: true });
          }
        }
    }
    await reg?.handle.stop();
    const bgAfter = await backgroundLoad(2000);
    if (ROOTS.length > 1) for (const [b, root] of ROOTS.entries()) console.log(`build ${b + 1}: ${root}`);
    console.log(
      `\nbackground CPU before ${(bg * 100).toFixed(0)}%, after ${(bgAfter * 100).toFixed(0)}%; ${STARTS} starts each`,
    );
    console.log('| variant | backend | VmRSS median | RssAnon | RssFile | all VmRSS (kB) |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const [key, xs] of samples) {
      const [variant, kind] = [key.slice(0, key.lastIndexOf(' ')), key.slice(key.lastIndexOf(' ') + 1)];
      const med = (f) => median(xs.map((x) => x[f]));
      console.log(
        `| ${variant} | ${kind} | ${med('rss')} kB (${(med('rss') / 1024).toFixed(1)} MiB) | ${med('anon')} | ${med('file')} | ${xs.map((x) => x.rss).join(', ')} |`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runBench(main);
