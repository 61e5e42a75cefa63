#!/usr/bin/env node
/**
 * The object-store row of the benchmark: skopeo push and pull of one image through
 * portcullis with the embedded core on an S3 bucket, against registry:2 with its own s3 driver
 * on a second bucket of the same store: OpenStack Swift with s3api on loopback, started by the
 * test harness (test/helpers/swift.ts). Both listen on plain HTTP, so only the storage path
 * differs. Writes bench/results/s3-<date>.md. `npm run build && node bench/s3.js`
 * (BENCH_SIZE_MB, default 256; BENCH_REPS, default 3).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile, mkdir, readdir } from 'node:fs/promises';
import { median, skopeo } from './lib/sys.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startSwift, swiftMissing } = await import(join(ROOT, 'dist/test/helpers/swift.js'));
const { makeOciImage, fileDigest } = await import(join(ROOT, 'dist/test/helpers/oci-image.js'));
const { registry2Binary, registry2Config } = await import(join(ROOT, 'dist/test/helpers/registry2-config.js'));
const { startPortcullis, freePort, tempDir, removeDir, startProcess, waitForHttp } = await import(
  join(ROOT, 'dist/test/helpers/processes.js')
);

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 256);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const log = (...a) => console.log(`[s3 ${new Date().toISOString().slice(11, 19)}]`, ...a);

const why = swiftMissing();
if (why) {
  console.error(`cannot run: ${why}`);
  process.exit(1);
}
const work = await tempDir('portcullis-bench-s3-');
const swift = await startSwift();
const stops = [() => swift.stop()];
try {
  const pcBucket = await swift.createBucket();
  const regBucket = await swift.createBucket();

  const pcPort = await freePort();
  const pc = await startPortcullis(
    [
      '--storage',
      `s3://${pcBucket}/registry`,
      '--s3-endpoint',
      swift.endpoint,
      '--listen',
      `127.0.0.1:${pcPort}`,
      '--access-log',
      'off',
    ],
    { env: swift.env, probe: `http://127.0.0.1:${pcPort}/v2/` },
  );
  stops.push(() => pc.stop());

  const regPort = await freePort();
  const config = join(work, 'registry.yml');
  await writeFile(
    config,
    registry2Config({
      port: regPort,
      secret: 'bench',
      storage: [
        '  s3:',
        `    accesskey: ${swift.accessKey}`,
        `    secretkey: ${swift.secretKey}`,
        `    region: ${swift.region}`,
        `    regionendpoint: ${swift.endpoint}`,
        `    bucket: ${regBucket}`,
        '    secure: false',
        '    v4auth: true',
        '    rootdirectory: /registry',
        '  redirect:',
        '    disable: true',
      ],
    }),
  );
  // aws-sdk-go in registry:2 panics on a CA bundle with its custom transport; the store is plain HTTP anyway.
  const reg = startProcess(registry2Binary(), ['serve', config], {
    env: { OTEL_TRACES_EXPORTER: 'none', AWS_CA_BUNDLE: '' },
  });
  stops.push(() => reg.stop());
  await waitForHttp(`http://127.0.0.1:${regPort}/v2/`, 30_000, reg);

  const targets = [
    { key: 'registry:2 (s3 driver)', port: regPort },
    { key: 'portcullis embedded (s3)', port: pcPort },
  ];
  const results = Object.fromEntries(targets.map((t) => [t.key, { push: [], pull: [] }]));
  for (let rep = 1; rep <= REPS; rep++) {
    // A fresh image each repetition: skopeo's blob-info cache (fixed under /var/lib/containers
    // for root) would otherwise turn a repeated push into a mount.
    const image = await makeOciImage(join(work, `img${rep}`), { layerSizes: [SIZE_MB << 20] });
    const bytes = image.layers[0].size;
    for (const t of rep % 2 ? targets : [...targets].reverse()) {
      const home = await tempDir('bench-s3-home-');
      const ref = `docker://127.0.0.1:${t.port}/bench/s3-${rep}:v1`;
      let started = Date.now();
      skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:latest`, ref], home);
      const push = bytes / 1e6 / ((Date.now() - started) / 1000);
      const out = join(home, 'out');
      started = Date.now();
      skopeo(['copy', '--src-tls-verify=false', ref, `oci:${out}:v1`], home);
      const pull = bytes / 1e6 / ((Date.now() - started) / 1000);
      const pulled = await readdir(join(out, 'blobs', 'sha256'));
      for (const l of image.layers) {
        if (
          !pulled.includes(l.digest.slice(7)) ||
          (await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7)))) !== l.digest
        )
          throw new Error(`${t.key}: pulled layer does not match`);
      }
      results[t.key].push.push(push);
      results[t.key].pull.push(pull);
      log(`rep ${rep} ${t.key}: push ${push.toFixed(1)} MB/s, pull ${pull.toFixed(1)} MB/s (digests verified)`);
      await removeDir(home);
    }
  }
  const base = results[targets[0].key];
  const row = (k, w) => {
    const m = median(results[k][w]);
    return `${m.toFixed(1)} MB/s (${Math.min(...results[k][w]).toFixed(1)}–${Math.max(...results[k][w]).toFixed(1)}; ${(m / median(base[w])).toFixed(2)}x)`;
  };
  const date = new Date().toISOString().slice(0, 10);
  const md = [
    `# Object-store row, ${date}`,
    '',
    `skopeo push and pull of a ${SIZE_MB} MiB single-layer image (incompressible, gzip level 0), ${REPS} interleaved repetitions, medians (min–max; ratio to registry:2).`,
    'Both on plain HTTP on loopback; storage: one single-node OpenStack Swift with s3api (Debian packages), a bucket each; registry:2 2.8 uses its own s3 driver (redirects disabled), portcullis its embedded core with `--storage s3://`. Every pulled layer verified by digest.',
    '',
    '| workload | registry:2 (s3 driver) | portcullis embedded (s3) |',
    '|---|---|---|',
    `| push | ${row(targets[0].key, 'push')} | ${row(targets[1].key, 'push')} |`,
    `| pull | ${row(targets[0].key, 'pull')} | ${row(targets[1].key, 'pull')} |`,
    '',
  ].join('\n');
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(join(ROOT, 'bench', 'results', `s3-${date}.md`), md);
  console.log(md);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await removeDir(work);
}
