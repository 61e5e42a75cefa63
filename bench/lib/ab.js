// Shared start of the A/B scripts (head-ab.js, push-ab.js): the two built checkouts named in
// BENCH_AB, the tools they drive, the OCI image maker from the test helpers, a work directory.
import { mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureTools } from './targets.js';
import { probeSkopeoIsolation } from './workloads.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function abSetup(name) {
  const builds = (process.env.BENCH_AB ?? '').split(',').filter(Boolean);
  if (builds.length !== 2) throw new Error("set BENCH_AB='/checkout/a,/checkout/b' (two built checkouts)");
  for (const b of builds)
    if (!existsSync(join(b, 'dist', 'bin', 'portcullis.js'))) throw new Error(`${b}: not built (npm run build)`);
  await ensureTools();
  await probeSkopeoIsolation();
  const { makeOciImage } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'helpers', 'oci-image.js')).href);
  const work = await mkdtemp(join(tmpdir(), `portcullis-${name}-`));
  return { builds, makeOciImage, work };
}
