/** Filesystem driver and parsing units: no path escapes the root, atomic publish, markers, range parsing. */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FilesystemStorage } from '../../src/registry/storage/filesystem.js';
import { parseDigest } from '../../src/oci/digest.js';
import { parseRange } from '../../src/registry/http.js';
import { parseReference } from '../../src/oci/names.js';
import { removeDir, sha256, tempDir } from './fixtures/harness.js';

const root = await tempDir('portcullis-fs-');
t.teardown(() => removeDir(root));
const fs = new FilesystemStorage(root);

t.test('metadata keys that could leave the storage root are refused', async (t) => {
  for (const key of ['../x', 'a/../../x', 'a//b', './a', 'a\\b', '/abs', 'a/\0']) {
    await t.rejects(fs.writeMeta(key, 'x'), key);
    await t.rejects(fs.readMeta(key), key);
  }
  await fs.writeMeta('repositories/ok/_manifests/tags/v1', 'x');
  t.equal((await fs.readMeta('repositories/ok/_manifests/tags/v1'))!.toString(), 'x');
});

t.test('empty markers are created where missing, leave existing documents alone and stay in the root', async (t) => {
  await fs.writeMeta('markers/kept', 'content');
  await fs.createEmptyMeta(['markers/kept', 'markers/new', 'markers/deeper/new']);
  t.equal((await fs.readMeta('markers/kept'))!.toString(), 'content', 'an existing document keeps its content');
  t.equal((await fs.readMeta('markers/new'))!.length, 0, 'a new marker is empty');
  t.same((await fs.listMeta('markers/deeper')).sort(), ['new'], 'its directory is created');
  await t.rejects(fs.createEmptyMeta(['../escape']), 'a key outside the root is refused');
});

t.test('blob and upload ids are validated before touching the filesystem', async (t) => {
  t.throws(() => fs.readBlob('sha256:../../etc/passwd'));
  t.equal(await fs.getUpload('../../etc'), null);
  t.equal(await fs.deleteUpload('../x'), false);
});

t.test('an upload commit publishes the whole blob and leaves no temp or session files', async (t) => {
  const u = await fs.createUpload('r');
  const data = Buffer.from('hello world');
  t.equal(await fs.appendUpload(u.id, 0, Readable.from([data])), data.length);
  await t.rejects(fs.appendUpload(u.id, 3, Readable.from([data])), /upload is at 11 bytes/, 'offset mismatch refused');
  await fs.commitUpload(u.id, sha256(data));
  t.same(await fs.readBlobBuffer(sha256(data)), data);
  t.same(await fs.listUploads(), []);
  t.same(await readdir(join(root, 'tmp')), []);
});

t.test('digest grammar: registered algorithms with exact lengths only', async (t) => {
  t.ok(parseDigest(`sha256:${'a'.repeat(64)}`));
  t.ok(parseDigest(`sha512:${'a'.repeat(128)}`));
  t.notOk(parseDigest(`sha256:${'A'.repeat(64)}`));
  t.notOk(parseDigest(`sha256:${'a'.repeat(63)}`));
  t.notOk(parseDigest(`sha384:${'a'.repeat(96)}`));
  t.notOk(parseDigest(`sha256:${'a'.repeat(64)}/..`));
});

t.test('tag grammar', async (t) => {
  t.same(parseReference('v1.0_rc-1'), { tag: 'v1.0_rc-1' });
  t.throws(() => parseReference('.hidden'));
  t.throws(() => parseReference('a'.repeat(129)));
  t.throws(() => parseReference('a/b'));
});

t.test('Range header parsing (RFC 9110 §14.1.2)', async (t) => {
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  t.same(parseRange('bytes=-5', 100), { start: 95, end: 99 });
  t.same(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  t.equal(parseRange('bytes=9-0', 100), null);
  t.equal(parseRange('items=0-1', 100), null);
  t.equal(parseRange(undefined, 100), null);
});
