/**
 * Retention on a real Swift bucket (s3api): pushed and pulled times come from the core's
 * injected clock, the dry run names the expected tags and bytes, the applied run deletes them,
 * gc removes their objects, and a cosign-style signature tag goes with its subject.
 */
import t from 'tap';
import { startSwift, swiftMissing } from '../helpers/swift.js';
import { http, imageParts, putManifest, startCore } from '../registry/fixtures/harness.js';
import { parseRetention } from '../../src/retention/policy.js';
import { runRetention } from '../../src/retention/run.js';

const DAY = 86_400_000;
const missing = swiftMissing();

t.test('retention on S3', { skip: missing ?? false, timeout: 280_000 }, async (t) => {
  const swift = await startSwift();
  t.teardown(() => swift.stop());
  const bucket = await swift.createBucket();
  const s3 = {
    endpoint: swift.endpoint,
    region: swift.region,
    credentials: { accessKeyId: swift.accessKey, secretAccessKey: swift.secretKey },
  };
  const storage = `s3://${bucket}/reg`;
  let clock = Date.now() - 6 * DAY;
  const core = await startCore({ storage, s3, now: () => clock, usageFlushIntervalMs: 3_600_000 });
  t.teardown(() => core.close());

  const bytesOf = async (repo: string, ref: string) => {
    const m = await http(core.url, `/v2/${repo}/manifests/${ref}`);
    const doc = m.json();
    return m.body.length + doc.config.size + doc.layers.reduce((s: number, l: { size: number }) => s + l.size, 0);
  };
  const digests: Record<string, string> = {};
  for (const v of ['a', 'b', 'c', 'd']) {
    const { manifest } = await imageParts(core.url, 'svc', { seed: `svc-${v}` });
    digests[v] = (await putManifest(core.url, 'svc', v, manifest)).digest;
    clock += DAY;
  }
  // A signature of "a", tagged the way cosign tags it.
  const sig = await imageParts(core.url, 'svc', { seed: 'sig-of-a' });
  await putManifest(core.url, 'svc', `sha256-${digests.a!.slice(7)}.sig`, sig.manifest);
  clock += 2 * DAY; // today
  await http(core.url, '/v2/svc/manifests/b'); // b pulled "today"
  await core.core.usage!.flush();
  const expected =
    (await bytesOf('svc', 'a')) +
    (await bytesOf('svc', 'c')) +
    (await bytesOf('svc', `sha256-${digests.a!.slice(7)}.sig`));

  const policy = parseRetention([
    { repositories: 'svc', keepLast: 1, keepPulledWithin: '2d', deleteOrphanReferrers: true },
  ]);
  const dry = await runRetention({ storage, s3, policy, dryRun: true, gracePeriodMs: 0, now: () => clock });
  t.same(
    dry.plan.tags.map((x) => x.tag).sort(),
    ['a', 'c', `sha256-${digests.a!.slice(7)}.sig`],
    'old unpulled tags and the signature of a deleted image',
  );
  t.equal(dry.plan.bytesFreed, expected);
  t.equal((await http(core.url, '/v2/svc/tags/list')).json().tags.length, 5, 'the dry run deleted nothing');

  const objectsBefore = (await swift.listKeys(bucket, 'reg/blobs/')).length;
  const applied = await runRetention({
    storage,
    s3,
    policy,
    dryRun: false,
    gracePeriodMs: 0,
    now: () => Date.now() + 60_000,
  });
  t.equal(applied.deletedTags.length, 3);
  t.equal(applied.gc?.bytesFreed, expected, 'gc freed exactly the planned bytes');
  t.equal(
    objectsBefore - (await swift.listKeys(bucket, 'reg/blobs/')).length,
    9,
    'three manifests, configs and layers',
  );
  t.same((await http(core.url, '/v2/svc/tags/list')).json().tags, ['b', 'd']);
  for (const tag of ['b', 'd']) t.equal((await http(core.url, `/v2/svc/manifests/${tag}`)).status, 200);
});
