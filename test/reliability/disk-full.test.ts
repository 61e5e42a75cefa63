/**
 * Disk full during an upload: the upload fails with a clear JSON error, nothing
 * half-written is visible, and pushes work again once space returns. The storage lives on a
 * small tmpfs mounted for the test (needs root; skipped with the reason otherwise).
 */
import t from 'tap';
import { join } from 'node:path';
import { mkdir, writeFile, rm, readdir } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { startPortcullis, freePort, tempDir, removeDir, execFileP, fetchInsecure } from '../helpers/processes.js';

const dir = await tempDir('portcullis-diskfull-');
const mounted = await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', dir]).then(
  () => true,
  (e: Error) => e.message.split('\n')[0],
);

t.test(
  'disk full during a push: clear error, nothing visible, recovery when space returns',
  { skip: mounted === true ? false : `cannot mount a tmpfs: ${mounted}` },
  async (t) => {
    t.teardown(async () => {
      await execFileP('umount', [dir]).catch(() => {});
      await removeDir(dir);
    });
    const storage = join(dir, 'data');
    await mkdir(storage);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gw = await startPortcullis(['--storage', storage, '--listen', `127.0.0.1:${port}`], {
      probe: `${base}/_ping`,
    });
    t.teardown(() => gw.stop());
    const filler = join(dir, 'filler');
    await writeFile(filler, Buffer.alloc(24 << 20));

    const blob = randomBytes(20 << 20);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const push = () =>
      fetchInsecure(`${base}/v2/full/app/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: blob,
      });

    const failed = await push();
    t.equal(failed.status, 507, 'Insufficient Storage');
    t.equal(failed.headers['docker-distribution-api-version'], 'registry/2.0');
    t.match(JSON.parse(failed.body).errors[0].message, /storage is full/);
    t.equal(
      (await fetchInsecure(`${base}/v2/full/app/blobs/${digest}`, { method: 'HEAD' })).status,
      404,
      'nothing half-written is visible',
    );
    const leftovers = (await readdir(storage, { recursive: true })).filter((f) => f.includes(digest.slice(7)));
    t.same(leftovers, [], 'no file named after the digest');
    t.equal((await fetchInsecure(`${base}/_ping`)).status, 200, 'still serving');

    await rm(filler);
    const ok = await push();
    t.equal(ok.status, 201, 'the same push succeeds once space returns');
    const back = await fetchInsecure(`${base}/v2/full/app/blobs/${digest}`, { method: 'HEAD' });
    t.equal(back.headers['content-length'], String(blob.length));
  },
);
