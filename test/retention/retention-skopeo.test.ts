/**
 * Retention with real skopeo pushes over simulated days (the core's clock is injected): the
 * dry run (`portcullis retention --dry-run`, the server's flags and config file) names exactly
 * the expected tags and bytes and changes nothing; the applied run deletes exactly those, gc
 * frees those bytes on disk, and every kept image still pulls byte for byte; a push racing a
 * retention run (with gc) is never broken.
 */
import t from 'tap';
import { readdir, stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileP, hasCommand, PORTCULLIS_BIN, removeDir, skopeo, tempDir } from '../helpers/processes.js';
import { makeOciImage, fileDigest, type GeneratedImage } from '../helpers/oci-image.js';
import { http, startCore } from '../registry/fixtures/harness.js';
import { parseRetention } from '../../src/retention/policy.js';
import { runRetention } from '../../src/retention/run.js';

const DAY = 86_400_000;

async function blobBytesOnDisk(root: string): Promise<number> {
  let total = 0;
  for (const alg of await readdir(join(root, 'blobs')).catch(() => [] as string[]))
    for (const pre of await readdir(join(root, 'blobs', alg)))
      for (const f of await readdir(join(root, 'blobs', alg, pre)))
        total += (await stat(join(root, 'blobs', alg, pre, f))).size;
  return total;
}

t.test(
  'dry run, applied run, gc and kept pulls',
  { skip: hasCommand('skopeo') ? false : 'skopeo not installed' },
  async (t) => {
    const work = await tempDir('portcullis-retention-');
    t.teardown(() => removeDir(work));
    const storage = join(work, 'store');
    // Simulated days that end today: tags pushed 10..5 days ago, a pull 4 days ago.
    let clock = Date.now() - 10 * DAY;
    const core = await startCore({ storage, now: () => clock, usageFlushIntervalMs: 3_600_000 });
    t.teardown(() => core.close());
    const host = `127.0.0.1:${core.port}`;
    const images: Record<string, GeneratedImage> = {};
    const push = async (name: string, tag: string) => {
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${images[name]!.dir}:${images[name]!.tag}`,
        `docker://${host}/app:${tag}`,
      ]);
    };
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) {
      images[v] = await makeOciImage(join(work, v), {
        tag: v,
        layerSizes: [300_000 + Number(v.slice(1)) * 1000, 50_000],
      });
      await push(v, v);
      clock += DAY;
    }
    await push('v5', 'latest'); // day 5: same manifest as v5
    clock -= 3 * DAY;
    await push('v2', 'stable'); // day 2: same manifest as v2, kept by pattern
    clock += 4 * DAY;
    t.equal((await http(core.url, '/v2/app/manifests/v1')).status, 200); // day 6: v1 pulled
    await core.core.usage!.flush();

    // What deleting v3 and v4 frees, read from the registry: manifest, config and layers.
    let expected = 0;
    for (const v of ['v3', 'v4']) {
      const m = await http(core.url, `/v2/app/manifests/${v}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      const doc = m.json();
      expected +=
        m.body.length + doc.config.size + doc.layers.reduce((s: number, l: { size: number }) => s + l.size, 0);
    }

    const config = join(work, 'portcullis.yaml');
    await writeFile(
      config,
      [
        `storage: ${storage}`,
        'retention:',
        '  - repositories: "app"',
        '    keepLast: 2',
        '    keepPulledWithin: 5d',
        '    keepTags: ["stable*"]',
        '  - repositories: "*"',
        '    keepLast: 1',
        '',
      ].join('\n'),
    );
    const cli = (args: string[]) =>
      execFileP(process.execPath, [PORTCULLIS_BIN, 'retention', '--config', config, ...args]);

    const before = await blobBytesOnDisk(storage);
    const dry = await cli(['--dry-run']);
    const wouldDelete = dry.stdout
      .split('\n')
      .filter((l) => l.startsWith('would delete app:'))
      .map((l) => l.split(' ')[2]);
    t.same(
      wouldDelete.sort(),
      ['app:v2', 'app:v3', 'app:v4'],
      'dry run names exactly the old, unpulled, unmatched tags',
    );
    t.match(
      dry.stdout,
      new RegExp(`free ${expected} bytes`),
      'and the bytes freed: v3 and v4, not v2 (stable keeps it)',
    );
    t.same((await http(core.url, '/v2/app/tags/list')).json().tags.length, 7, 'the dry run deleted nothing');
    t.equal(await blobBytesOnDisk(storage), before);

    const applied = await cli(['--retention-grace-period', '0']);
    t.same(
      applied.stdout
        .split('\n')
        .filter((l) => l.startsWith('deleted app:'))
        .map((l) => l.split(' ')[1])
        .sort(),
      ['app:v2', 'app:v3', 'app:v4'],
    );
    t.match(applied.stdout, new RegExp(`freeing ${expected} bytes`));
    t.same((await http(core.url, '/v2/app/tags/list')).json().tags, ['latest', 'stable', 'v1', 'v5']);
    t.equal(before - (await blobBytesOnDisk(storage)), expected, 'gc freed exactly those bytes on disk');

    // Every kept image pulls, byte for byte.
    for (const [tag, src] of [
      ['v1', 'v1'],
      ['v5', 'v5'],
      ['latest', 'v5'],
      ['stable', 'v2'],
    ] as const) {
      const out = join(work, `pull-${tag}`);
      await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/app:${tag}`, `dir:${out}`]);
      for (const l of images[src]!.layers) {
        t.equal(
          await fileDigest(join(out, l.digest.slice(7))),
          l.digest,
          `${tag}: layer ${l.digest.slice(7, 19)} intact`,
        );
      }
      t.same(
        await readFile(join(out, 'manifest.json')),
        await readFile(join(images[src]!.dir, 'blobs', 'sha256', images[src]!.manifest.digest.slice(7))),
      );
    }
  },
);

t.test(
  'a push racing a retention run with gc is never broken',
  { skip: hasCommand('skopeo') ? false : 'skopeo not installed' },
  async (t) => {
    const work = await tempDir('portcullis-retention-race-');
    t.teardown(() => removeDir(work));
    const storage = join(work, 'store');
    const core = await startCore({ storage });
    t.teardown(() => core.close());
    const host = `127.0.0.1:${core.port}`;
    const old = await makeOciImage(join(work, 'old'), { tag: 'x', layerSizes: [200_000] });
    for (let i = 0; i < 4; i++)
      await skopeo(['copy', '--dest-tls-verify=false', `oci:${old.dir}:x`, `docker://${host}/race:old${i}`]);
    const fresh = await makeOciImage(join(work, 'fresh'), { tag: 'x', layerSizes: [8 << 20, 4 << 20, 100_000] });
    const policy = parseRetention([{ repositories: '*', keepLast: 1 }]);
    // Several runs back to back while the push streams its layers (gc grace: pushes in flight).
    const pushing = skopeo(['copy', '--dest-tls-verify=false', `oci:${fresh.dir}:x`, `docker://${host}/race:new`]);
    let runs = 0;
    let done = false;
    void pushing.finally(() => {
      done = true;
    });
    while (!done || runs < 2) {
      await runRetention({ storage, policy, dryRun: false, gracePeriodMs: 60_000 });
      runs++;
    }
    await pushing;
    await runRetention({ storage, policy, dryRun: false, gracePeriodMs: 60_000 }); // one more after the push landed
    const out = join(work, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/race:new`, `dir:${out}`]);
    for (const l of fresh.layers) t.equal(await fileDigest(join(out, l.digest.slice(7))), l.digest);
    t.same((await http(core.url, '/v2/race/tags/list')).json().tags, ['new'], 'the old tags went, the new one stayed');
    t.ok(runs >= 2);
  },
);

t.test('a wrong rule is one line naming --retention, exit 2; the server refuses to start on it too', async (t) => {
  const work = await tempDir('portcullis-retention-bad-');
  t.teardown(() => removeDir(work));
  const config = join(work, 'bad.yaml');
  await writeFile(config, `storage: ${join(work, 'store')}\nretention:\n  - repositories: "*"\n    keepLast: ten\n`);
  for (const args of [
    ['retention', '--dry-run', '--config', config],
    ['--config', config, '--listen', '127.0.0.1:0'],
  ]) {
    const r = await execFileP(process.execPath, [PORTCULLIS_BIN, ...args]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, /^portcullis: --retention: retention rule 1: keepLast must be a whole number, got "ten"\n$/);
  }
});
