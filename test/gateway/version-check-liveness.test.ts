/**
 * With --upstream, the gateway answers GET /v2/ itself only while the registry is known to be up:
 * a registry killed a moment ago is reported as gone by the very next version check (monitoring
 * probes, docker login), and as back once it is.
 */
import t from 'tap';
import { fetchInsecure, freePort, removeDir, startPortcullis, startRegistry2, tempDir } from '../helpers/processes.js';

const root = await tempDir('registry2-root-');
t.teardown(() => removeDir(root));
let registry = await startRegistry2({ root });
t.teardown(() => registry.stop());
const port = await freePort();
const gw = await startPortcullis(
  ['--upstream', registry.url, '--listen', `127.0.0.1:${port}`, '--health-interval', '1h', '--access-log', 'off'],
  { probe: `http://127.0.0.1:${port}/v2/` },
);
t.teardown(() => gw.stop());
const v2 = `http://127.0.0.1:${port}/v2/`;

t.test('while registry:2 is up, the version check answers 200 {}', async (t) => {
  for (let i = 0; i < 5; i++) {
    const r = await fetchInsecure(v2);
    t.equal(r.status, 200);
    t.equal(r.body, '{}');
  }
});

t.test('the first version check after registry:2 is killed says it is gone', async (t) => {
  // Killed right after it answered: the gateway has just heard from it and holds a pooled connection.
  const ok = await fetchInsecure(v2);
  t.equal(ok.status, 200, 'answered just before the kill');
  await registry.stop('SIGKILL');
  await removeDir(registry.configDir);
  const r = await fetchInsecure(v2);
  t.ok(r.status === 502 || r.status === 503, `answered ${r.status} rather than 200 {}`);
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  t.match(r.headers['content-type'], /application\/json/);
  t.match(JSON.parse(r.body).errors[0].code, /^(BAD_GATEWAY|UNAVAILABLE)$/);
  const again = await fetchInsecure(v2);
  t.ok(again.status === 502 || again.status === 503, `and again ${again.status}`);
});

t.test('once registry:2 is back on the same address, the version check says so', async (t) => {
  registry = await startRegistry2({ root, port: Number(new URL(registry.url).port) });
  const r = await fetchInsecure(v2);
  t.equal(r.status, 200);
  t.equal(r.body, '{}');
});
