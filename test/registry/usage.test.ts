/**
 * Pull and push times are recorded with the core's clock, survive a restart, and two
 * instances on one storage both land their pulls.
 */
import t from 'tap';
import { BROWSE_HEADER } from '../../src/oci/browse-header.js';
import { removeDir, tempDir } from '../helpers/processes.js';
import { http, imageParts, putManifest, startCore } from './fixtures/harness.js';

t.test('pull and push times survive a restart and merge across instances', async (t) => {
  const dir = await tempDir('portcullis-usage-');
  t.teardown(() => removeDir(dir));
  let clock = Date.UTC(2026, 0, 1);
  const now = () => clock;
  const a = await startCore({ storage: dir, now, usageFlushIntervalMs: 3_600_000 });
  const { manifest } = await imageParts(a.url, 'app');
  const pushed = await putManifest(a.url, 'app', 'v1', manifest);
  const digest = String(pushed.headers['docker-content-digest']);
  const pushedAt = clock;

  clock += 86_400_000;
  t.equal((await http(a.url, '/v2/app/manifests/v1')).status, 200);
  clock += 3_600_000;
  t.equal((await http(a.url, `/v2/app/manifests/${digest}`, { method: 'HEAD' })).status, 200);
  const browsed = await http(a.url, '/v2/app/manifests/v1', { headers: { [BROWSE_HEADER]: '1' } });
  t.equal(browsed.status, 200, 'the repository browser reads the manifest');
  const pulledAt = clock - 3_600_000;
  t.same(
    await a.core.usage!.read('app'),
    { pulled: { [digest]: pulledAt }, lastPulledAt: pulledAt, lastPushedAt: pushedAt },
    'neither a HEAD nor a look in the repository browser is a pull',
  );
  await a.close(); // flushes

  const b = await startCore({ storage: dir, now, usageFlushIntervalMs: 3_600_000 });
  t.teardown(() => b.close());
  t.same(
    await b.core.usage!.read('app'),
    { pulled: { [digest]: pulledAt }, lastPulledAt: pulledAt, lastPushedAt: pushedAt },
    'after a restart',
  );
  t.equal((await b.core.repos.resolveTag('app', 'v1'))?.pushedAt, pushedAt, 'the tag knows when it was pushed');

  // A second instance pulls later; both flush; the later time wins, nothing is lost.
  const c = await startCore({ storage: dir, now, usageFlushIntervalMs: 3_600_000 });
  t.teardown(() => c.close());
  clock += 1000;
  await http(c.url, '/v2/app/manifests/v1');
  await c.core.usage!.flush();
  clock += 1000;
  await http(b.url, '/v2/app/manifests/v1');
  await b.core.usage!.flush();
  t.equal((await c.core.usage!.read('app')).pulled[digest], clock);
});
