/** `portcullis gc`: mark from tags, index children and referrers; sweep the rest after the grace period. */
import t from 'tap';
import { readdir, utimes, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { collectGarbage } from '../../src/registry/index.js';
import { formatSummary, parseDuration } from '../../src/cli/gc-command.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  http,
  imageParts,
  putManifest,
  pushBlob,
  sha256,
  startCore,
} from './fixtures/harness.js';
import { execFileP } from '../helpers/processes.js';

/** Age every file under the storage by `ms` (the grace period only protects young files). */
async function ageAll(dir: string, ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) await utimes(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name), when, when);
  }
}

t.test('gc keeps everything reachable and sweeps the rest', async (t) => {
  const h = await startCore();
  t.teardown(h.close);
  // tagged image
  const kept = await imageParts(h.url, 'gc/repo', { seed: 'kept' });
  const keptPut = await putManifest(h.url, 'gc/repo', 'v1', kept.manifest);
  // multi-arch: index tagged, children only by digest
  const child = await imageParts(h.url, 'gc/repo', { seed: 'child' });
  const childPut = await putManifest(h.url, 'gc/repo', sha256(JSON.stringify(child.manifest)), child.manifest);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: childPut.digest, size: JSON.stringify(child.manifest).length }],
  };
  await putManifest(h.url, 'gc/repo', 'multi', index);
  // referrer of the tagged image (untagged itself)
  const sig = await imageParts(h.url, 'gc/repo', { seed: 'sig' });
  const sigManifest = {
    ...sig.manifest,
    subject: { mediaType: OCI_MANIFEST, digest: keptPut.digest, size: JSON.stringify(kept.manifest).length },
  };
  const sigPut = await putManifest(h.url, 'gc/repo', sha256(JSON.stringify(sigManifest)), sigManifest);
  // garbage: an untagged image, a tag deleted, a lone blob
  const gone = await imageParts(h.url, 'gc/repo', { seed: 'gone' });
  const gonePut = await putManifest(h.url, 'gc/repo', 'old', gone.manifest);
  await http(h.url, '/v2/gc/repo/manifests/old', { method: 'DELETE' });
  const lone = await pushBlob(h.url, 'gc/repo', 'lone blob');
  const young = await pushBlob(h.url, 'gc/repo', 'young blob');

  await ageAll(h.storage, 2 * 3600_000);
  const now = new Date();
  const hex = young.slice(7);
  await utimes(join(h.storage, 'blobs', 'sha256', hex.slice(0, 2), hex), now, now);

  const dry = await collectGarbage({ storage: h.storage, dryRun: true, gracePeriodMs: 3600_000 });
  t.equal(dry.blobsDeleted, 4, 'dry run counts: gone manifest+config+layer, lone blob');
  t.equal(dry.manifestsDeleted, 1);
  t.equal((await http(h.url, `/v2/gc/repo/blobs/${lone}`)).status, 200, 'dry run deletes nothing');

  const res = await collectGarbage({ storage: h.storage, dryRun: false, gracePeriodMs: 3600_000 });
  t.same({ blobs: res.blobsDeleted, manifests: res.manifestsDeleted }, { blobs: 4, manifests: 1 });
  t.ok(res.bytesFreed > 0);
  t.equal((await http(h.url, `/v2/gc/repo/blobs/${lone}`)).status, 404);
  t.equal((await http(h.url, `/v2/gc/repo/manifests/${gonePut.digest}`)).status, 404);
  t.equal((await http(h.url, `/v2/gc/repo/blobs/${gone.layerDigest}`)).status, 404);
  t.equal((await http(h.url, `/v2/gc/repo/blobs/${young}`)).status, 200, 'younger than the grace period');
  for (const ref of ['v1', 'multi', childPut.digest, sigPut.digest])
    t.equal((await http(h.url, `/v2/gc/repo/manifests/${ref}`)).status, 200, `${ref} kept`);
  for (const d of [kept.layerDigest, kept.configDigest, child.layerDigest, sig.layerDigest]) {
    const r = await http(h.url, `/v2/gc/repo/blobs/${d}`);
    t.equal(r.status, 200, `${d} kept`);
  }
  t.equal((await http(h.url, `/v2/gc/repo/referrers/${keptPut.digest}`)).json().manifests.length, 1);
  const again = await collectGarbage({ storage: h.storage, dryRun: false, gracePeriodMs: 3600_000 });
  t.equal(again.blobsDeleted, 0, 'a second run finds nothing');
});

t.test('gc never touches a fresh push (grace period)', async (t) => {
  const h = await startCore();
  t.teardown(h.close);
  await pushBlob(h.url, 'gc/fresh', 'in flight');
  const r = await collectGarbage({ storage: h.storage, dryRun: false, gracePeriodMs: 3600_000 });
  t.equal(r.blobsDeleted, 0);
  t.equal(r.kept, 1);
});

t.test('gc command parses durations and prints a one-line summary', async (t) => {
  t.equal(parseDuration('1h'), 3600_000);
  t.equal(parseDuration('30m'), 1800_000);
  t.equal(parseDuration('90s'), 90_000);
  t.equal(parseDuration('0'), 0);
  t.throws(() => parseDuration('soon'));
  t.equal(
    formatSummary({ blobsDeleted: 2, bytesFreed: 3 << 20, manifestsDeleted: 1, kept: 5 }, false),
    'gc: deleted 2 blobs (3.0 MiB) and 1 manifests; kept 5 blobs',
  );
  t.match(
    formatSummary({ blobsDeleted: 2, bytesFreed: 0, manifestsDeleted: 0, kept: 0 }, true),
    /dry run.*would delete 2 blobs/,
  );
});

t.test('gc command runs through yargs against a storage directory', async (t) => {
  const h = await startCore();
  t.teardown(h.close);
  const lone = await pushBlob(h.url, 'gc/cli', 'cli lone');
  await ageAll(h.storage, 7200_000);
  const script = `import yargs from 'yargs'; import { gcCommand } from ${JSON.stringify(new URL('../../src/cli/gc-command.js', import.meta.url).href)};
    await yargs(process.argv.slice(1)).command(gcCommand).strict().parseAsync();`;
  const dry = await execFileP(process.execPath, [
    '--input-type=module',
    '-e',
    script,
    'gc',
    '--storage',
    h.storage,
    '--dry-run',
    '--grace-period',
    '1h',
  ]);
  t.match(dry.stdout, /^gc \(dry run\): would delete 1 blobs/);
  t.ok(await stat(join(h.storage, 'blobs', 'sha256', lone.slice(7, 9), lone.slice(7))));
  const real = await execFileP(process.execPath, [
    '--input-type=module',
    '-e',
    script,
    'gc',
    '--storage',
    h.storage,
    '--grace-period',
    '1h',
  ]);
  t.match(real.stdout, /^gc: deleted 1 blobs/);
  t.equal((await http(h.url, `/v2/gc/cli/blobs/${lone}`)).status, 404);
});
