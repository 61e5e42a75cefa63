/**
 * /metrics: golden metric names and types, values after known traffic, bounded label
 * cardinality, and the exposition checked by the real `promtool check metrics`.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { VERSION } from '../../src/version.js';
import { get, passwordOf, startHarness } from './fixtures/harness.js';
import { recordRefusedUpstream, simulatePull, simulatePush } from './fixtures/traffic.js';

/** Every portcullis_ metric with its type: renaming one breaks dashboards, so it must fail here. */
const GOLDEN = {
  portcullis_auth_failures_total: 'counter',
  portcullis_blocked_user_agents_total: 'counter',
  portcullis_build_info: 'gauge',
  portcullis_client_requests_total: 'counter',
  portcullis_connections: 'gauge',
  portcullis_connections_accepted_total: 'counter',
  portcullis_connections_handled_total: 'counter',
  portcullis_internal_errors_total: 'counter',
  portcullis_pulls_total: 'counter',
  portcullis_pushes_total: 'counter',
  portcullis_received_bytes_total: 'counter',
  portcullis_request_duration_seconds: 'histogram',
  portcullis_requests_total: 'counter',
  portcullis_sent_bytes_total: 'counter',
  portcullis_service_up: 'gauge',
  portcullis_upstream_duration_seconds: 'histogram',
  portcullis_upstream_errors_total: 'counter',
  portcullis_webhook_dropped_total: 'counter',
};

function types(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('golden metric names and types; process and Node metrics present', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const r = await get(h.base, '/metrics');
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const all = types(r.body);
  const ours = Object.fromEntries(
    Object.entries(all)
      .filter(([k]) => k.startsWith('portcullis_'))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  t.same(ours, GOLDEN);
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
  ])
    t.ok(all[name], name);
  t.notOk(
    Object.keys(all).some((k) => k.startsWith('nginx_')),
    'nginx_* names belong to nginx-prometheus-exporter, not us',
  );
});

t.test('a repository-browser read of a manifest is a request, not a pull', async (t) => {
  const h = await startHarness({ users: ['alice'] });
  t.teardown(h.close);
  await simulatePull(h.base, 'team/app', 'v1', { user: 'alice', layerBytes: 1000 });
  const auth = `Basic ${Buffer.from(`alice:${passwordOf('alice')}`).toString('base64')}`;
  const browse = await get(h.base, '/v2/team/app/manifests/v1?size=500', {
    authorization: auth,
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36',
    'x-portcullis-browse': '1',
  });
  t.equal(browse.status, 200);
  const m = (await get(h.base, '/metrics')).body;
  t.equal(value(m, 'portcullis_requests_total{method="GET",status="200",operation="manifest_get"}'), 2);
  t.equal(value(m, 'portcullis_pulls_total{repository="team/app"}'), 1, 'only the client pull is a pull');
});

t.test('values after known traffic', async (t) => {
  const h = await startHarness({ users: ['alice', 'bob'] });
  t.teardown(h.close);
  await simulatePush(h.base, 'team/app', 'v1', { user: 'alice', layerBytes: 300_000 });
  await simulatePull(h.base, 'team/app', 'v1', { user: 'bob', layerBytes: 200_000 });
  await get(h.base, '/v2/team/app/manifests/missing?status=404');
  h.stats.authFailure('bad_password');
  h.stats.authFailure('bad_password');
  h.stats.blockedAgent('docker-1.5');
  h.stats.webhookDropped('http://hooks.example/x');
  h.stats.internalError();
  recordRefusedUpstream(h.stats);
  const m = (await get(h.base, '/metrics')).body;
  t.equal(value(m, 'portcullis_requests_total{method="PUT",status="201",operation="manifest_put"}'), 1);
  t.equal(value(m, 'portcullis_requests_total{method="PATCH",status="202",operation="blob_upload"}'), 1);
  t.equal(value(m, 'portcullis_requests_total{method="GET",status="404",operation="manifest_get"}'), 1);
  t.equal(value(m, 'portcullis_request_duration_seconds_count{operation="blob_upload"}'), 3);
  t.equal(value(m, 'portcullis_request_duration_seconds_bucket{operation="blob_upload",le="+Inf"}'), 3);
  t.equal(value(m, 'portcullis_received_bytes_total{operation="blob_upload"}'), 300_000);
  const sent = value(m, 'portcullis_sent_bytes_total{operation="blob_get"}') ?? 0;
  // Response bytes as they left the socket: the 200 000-byte body and its response head.
  t.ok(sent > 200_000 && sent < 200_000 + 1024, `the blob body and its head were counted (${sent})`);
  t.equal(value(m, 'portcullis_pushes_total{repository="team/app"}'), 1);
  t.equal(value(m, 'portcullis_pulls_total{repository="team/app"}'), 1);
  t.equal(value(m, 'portcullis_client_requests_total{client="docker"}'), 5);
  t.equal(value(m, 'portcullis_client_requests_total{client="containerd"}'), 2);
  t.equal(value(m, 'portcullis_auth_failures_total{reason="bad_password"}'), 2);
  t.equal(value(m, 'portcullis_blocked_user_agents_total{client="docker-1.5"}'), 1);
  t.equal(value(m, 'portcullis_upstream_errors_total{member="http://r2:5000",kind="ECONNREFUSED"}'), 1);
  const member = new URL(h.upstream).host;
  t.equal(value(m, `portcullis_upstream_duration_seconds_count{member="${member}"}`), 7);
  t.equal(value(m, 'portcullis_webhook_dropped_total{endpoint="http://hooks.example/x"}'), 1);
  t.equal(value(m, 'portcullis_internal_errors_total'), 1);
  t.equal(value(m, `portcullis_service_up{service="${member}",kind="upstream"}`), 1);
  t.equal(value(m, 'portcullis_connections{state="writing"}'), 1, 'the scrape itself');
  t.equal(
    value(m, 'portcullis_connections_accepted_total'),
    8,
    '7 registry requests and this scrape, one connection each',
  );
  t.match(m, new RegExp(`^portcullis_build_info\\{version="${VERSION.replaceAll('.', '\\.')}",node="v\\d+`, 'm'));
});

t.test('repository and client labels are bounded to topN, the rest is "other"', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  // The gateway keeps the top 20 by name; 23 repositories and clients leave 3 over.
  for (let i = 0; i < 23; i++) {
    h.stats.record({
      method: 'PUT',
      status: 201,
      operation: 'manifest_put',
      repository: `repo${i}`,
      reference: 'v1',
      clientType: `client${i}`,
      bytesIn: 10,
      bytesOut: 0,
      durationMs: 1,
    });
  }
  const m = (await get(h.base, '/metrics')).body;
  const pushes = m.split('\n').filter((l) => l.startsWith('portcullis_pushes_total{'));
  t.same(pushes, [
    ...Array.from({ length: 20 }, (_, i) => `portcullis_pushes_total{repository="repo${i}"} 1`),
    'portcullis_pushes_total{repository="other"} 3',
  ]);
  const clients = m.split('\n').filter((l) => l.startsWith('portcullis_client_requests_total{'));
  t.equal(clients.length, 21);
  t.ok(clients.includes('portcullis_client_requests_total{client="other"} 3'));
});

t.test('the real promtool accepts the exposition (check metrics)', async (t) => {
  const h = await startHarness({ users: ['alice'] });
  t.teardown(h.close);
  await simulatePush(h.base, 'team/app', 'v1', { user: 'alice' });
  await simulatePull(h.base, 'team/app', 'v1');
  h.stats.authFailure('unknown_user');
  const m = (await get(h.base, '/metrics')).body;
  const r = spawnSync('promtool', ['check', 'metrics'], { input: m, encoding: 'utf8' });
  // Parse errors: promtool prints "error while linting" and exits 1 whatever the lint says.
  const out = (r.stdout + r.stderr).trim();
  t.notMatch(out, /error/i, 'the exposition parses');
  // Lint findings, one per line. prom-client's default nodejs_active_*_total gauges are
  // known to trip "non-counter metrics should not have _total" (they keep those names for
  // compatibility); nothing of ours may appear.
  const findings = out
    .split('\n')
    .filter((l) => l && !/^nodejs_active_(handles|requests|resources)_total non-counter/.test(l));
  t.same(findings, [], 'no lint findings on portcullis metrics');
});
