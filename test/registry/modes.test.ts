/** Read-only and no-delete modes: distribution-spec "Content Management" (400 or 405 when disabled). */
import t from 'tap';
import { http, imageParts, putManifest, pushBlob, startCore, tempDir } from './fixtures/harness.js';

const storage = await tempDir('portcullis-modes-');
const rw = await startCore({ storage });
const { manifest } = await imageParts(rw.url, 'modes/repo');
const put = await putManifest(rw.url, 'modes/repo', 'v1', manifest);
const blob = await pushBlob(rw.url, 'modes/repo', 'blob');
await rw.close();

t.test('read-only: pulls work, every write is 405 UNSUPPORTED', async (t) => {
  const h = await startCore({ storage, readOnly: true });
  t.teardown(h.close);
  t.equal((await http(h.url, '/v2/modes/repo/manifests/v1')).status, 200);
  t.equal((await http(h.url, `/v2/modes/repo/blobs/${blob}`)).status, 200);
  for (const [method, path] of [
    ['POST', '/v2/modes/repo/blobs/uploads/'],
    ['PUT', '/v2/modes/repo/manifests/v2'],
    ['DELETE', '/v2/modes/repo/manifests/v1'],
    ['DELETE', `/v2/modes/repo/blobs/${blob}`],
    ['PATCH', '/v2/modes/repo/blobs/uploads/00000000-0000-4000-8000-000000000000'],
  ]) {
    const r = await http(h.url, path!, { method, body: method === 'DELETE' ? undefined : '{}' });
    t.equal(r.status, 405, `${method} ${path}`);
    t.equal(r.json().errors[0].code, 'UNSUPPORTED');
  }
  t.equal((await http(h.url, '/v2/modes/repo/manifests/v1')).status, 200, 'still there');
});

t.test('deleteEnabled=false: DELETE of manifests, tags and blobs is 405, pushes still work', async (t) => {
  const h = await startCore({ storage, deleteEnabled: false });
  t.teardown(h.close);
  for (const path of [
    '/v2/modes/repo/manifests/v1',
    `/v2/modes/repo/manifests/${put.digest}`,
    `/v2/modes/repo/blobs/${blob}`,
  ]) {
    const r = await http(h.url, path, { method: 'DELETE' });
    t.equal(r.status, 405, path);
    t.equal(r.json().errors[0].code, 'UNSUPPORTED');
  }
  t.equal((await http(h.url, '/v2/modes/repo/manifests/v1')).status, 200);
  await pushBlob(h.url, 'modes/repo', 'push still works');
  // cancelling one's own upload is part of pushing, not content deletion
  const s = await http(h.url, '/v2/modes/repo/blobs/uploads/', { method: 'POST' });
  t.equal((await http(h.url, s.headers.location!, { method: 'DELETE' })).status, 204);
});
