#!/usr/bin/env node
/**
 * Soak: portcullis with the embedded core, TLS and bcrypt basic auth under a steady
 * mix of pushes, pulls, manifest HEADs and wrong passwords for BENCH_SOAK_MIN minutes (default
 * 10). Every 10 s it samples requests served, errors, p99 latency of the window, RSS and open
 * file descriptors, then writes bench/results/soak-<date>.md with the table and an SVG plot.
 * Not part of CI: `npm run build && node bench/soak.js`.
 */
import https from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, stopAll, killAllSync } from './lib/sys.js';
import { makeHtpasswd, makeCert, startPortcullis, BASIC } from './lib/targets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MINUTES = Number(process.env.BENCH_SOAK_MIN ?? 10);
const CONCURRENCY = Number(process.env.BENCH_SOAK_CONCURRENCY ?? 8);
const SAMPLE_MS = 10_000;
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: CONCURRENCY * 2 });

function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = https.request(url, { method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      res.on('error', () => resolve({ status: 0, ms: 0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    req.end(body);
  });
}

const percentile = (xs, p) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function svg(samples) {
  const W = 720;
  const H = 180;
  const pad = 40;
  const series = [
    { key: 'rssMiB', label: 'RSS (MiB)', color: '#1565c0' },
    { key: 'fds', label: 'open fds', color: '#2e7d32' },
    { key: 'p99', label: 'p99 latency (ms)', color: '#c62828' },
  ];
  const tMax = samples.at(-1)?.t || 1;
  const charts = series
    .map((s, i) => {
      const max = Math.max(1, ...samples.map((x) => x[s.key])) * 1.1;
      const pts = samples
        .map(
          (x) =>
            `${(pad + (x.t / tMax) * (W - 2 * pad)).toFixed(1)},${(i * H + H - 20 - (x[s.key] / max) * (H - 40)).toFixed(1)}`,
        )
        .join(' ');
      return (
        `<text x="${pad}" y="${i * H + 14}" font-size="12" fill="${s.color}">${s.label} (max ${max.toFixed(0)})</text>` +
        `<line x1="${pad}" y1="${i * H + H - 20}" x2="${W - pad}" y2="${i * H + H - 20}" stroke="#ccc"/>` +
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>`
      );
    })
    .join('\n');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * 3}" font-family="sans-serif">\n${charts}\n` +
    `<text x="${W - pad}" y="${H * 3 - 4}" font-size="11" text-anchor="end">minutes: ${(tMax / 60000).toFixed(1)}</text></svg>\n`
  );
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-soak-'));
  process.on('SIGINT', () => {
    killAllSync();
    process.exit(130);
  });
  try {
    const htpasswd = await makeHtpasswd(dir);
    const tls = await makeCert(dir);
    const pc = await startPortcullis(ROOT, {
      storage: join(dir, 'data'),
      htpasswd,
      tls,
      env: { PORTCULLIS_BRUTE_FORCE_MAX: '1000000' },
    });
    const auth = { authorization: `Basic ${BASIC}` };
    const wrong = { authorization: `Basic ${Buffer.from('bench:wrong').toString('base64')}` };
    // One image to pull and HEAD: a 4 MiB layer, a config and a manifest.
    const put = async (repo, data) => {
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const r = await request(`${pc.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': data.length },
        body: data,
      });
      return { digest, size: data.length, status: r.status };
    };
    const layer = await put('soak/base', randomBytes(4 << 20));
    const config = await put(
      'soak/base',
      Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
      }),
    );
    await request(`${pc.url}/v2/soak/base/manifests/v1`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });

    const ops = [
      async () => await put(`soak/p${Math.floor(Math.random() * 50)}`, randomBytes(256 << 10)),
      () => request(`${pc.url}/v2/soak/base/blobs/${layer.digest}`, { headers: auth }),
      () =>
        request(`${pc.url}/v2/soak/base/manifests/v1`, {
          method: 'HEAD',
          headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' },
        }),
      () => request(`${pc.url}/v2/`, { headers: wrong }),
    ];
    const expected = [201, 200, 200, 401];
    let window = [];
    let served = 0;
    let errors = 0;
    const samples = [];
    const started = Date.now();
    const end = started + MINUTES * 60_000;
    const workers = Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; Date.now() < end; i++) {
        const k = i % ops.length;
        const r = await ops[k]();
        served++;
        if (r.status !== expected[k]) errors++;
        if (r.ms !== undefined) window.push(r.ms);
      }
    });
    const sampler = setInterval(() => {
      const status = readFileSync(`/proc/${pc.handle.pid}/status`, 'utf8');
      const s = {
        t: Date.now() - started,
        served,
        errors,
        p99: percentile(window, 0.99),
        p50: percentile(window, 0.5),
        rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024,
        fds: readdirSync(`/proc/${pc.handle.pid}/fd`).length,
      };
      samples.push(s);
      window = [];
      log(
        `soak ${(s.t / 60000).toFixed(1)} min: ${served} requests, ${errors} errors, p99 ${s.p99.toFixed(1)} ms, RSS ${s.rssMiB.toFixed(0)} MiB, ${s.fds} fds`,
      );
    }, SAMPLE_MS);
    await Promise.all(workers);
    clearInterval(sampler);

    const date = new Date().toISOString().slice(0, 10);
    const out = join(ROOT, 'bench', 'results');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `soak-${date}.svg`), svg(samples));
    const first = samples[1] ?? samples[0];
    const last = samples.at(-1);
    const md = [
      `# portcullis soak, ${date}`,
      '',
      `${MINUTES} minutes, ${CONCURRENCY} concurrent clients over TLS with bcrypt basic auth against the embedded core, a steady mix of`,
      'blob pushes (256 KiB, 50 repositories), 4 MiB blob pulls, manifest HEADs by tag and wrong-password requests (expected 401).',
      '',
      `**${served} requests, ${errors} unexpected answers.** p99 latency ${first.p99.toFixed(1)} ms in the second window, ${last.p99.toFixed(1)} ms in the last;`,
      `RSS ${first.rssMiB.toFixed(0)} → ${last.rssMiB.toFixed(0)} MiB; open fds ${first.fds} → ${last.fds}.`,
      '',
      `![RSS, fds and p99 over time](soak-${date}.svg)`,
      '',
      '| minute | requests | errors | p50 ms | p99 ms | RSS MiB | fds |',
      '|---|---|---|---|---|---|---|',
      ...samples.map(
        (s) =>
          `| ${(s.t / 60000).toFixed(1)} | ${s.served} | ${s.errors} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.rssMiB.toFixed(0)} | ${s.fds} |`,
      ),
      '',
    ].join('\n');
    await writeFile(join(out, `soak-${date}.md`), md);
    log(`wrote bench/results/soak-${date}.md`);
    if (errors) process.exitCode = 1;
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  killAllSync();
  process.exit(1);
});
