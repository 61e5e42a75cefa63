/**
 * Pushes and pulls derived from request records, the bounded recent ring, per-second
 * series, status codes and top lists.
 */
import t from 'tap';
import { Activity } from '../../src/stats/activity.js';
import type { RequestRecord } from '../../src/stats/index.js';

function setup(recent = 50) {
  let now = 1_000_000;
  const pushes: string[] = [];
  const pulls: string[] = [];
  const a = new Activity(
    20,
    recent,
    (r) => pushes.push(r),
    (r) => pulls.push(r),
    () => now,
  );
  const rec = (r: Partial<RequestRecord>, advanceMs = 0): void => {
    now += advanceMs;
    a.record({
      method: 'GET',
      status: 200,
      operation: 'other',
      clientType: 'docker',
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      ...r,
    });
  };
  return { a, rec, pushes, pulls, advance: (ms: number) => (now += ms), now: () => now };
}

t.test('a push: blob upload bytes since the last push, duration from the first upload', async (t) => {
  const { a, rec, pushes } = setup();
  const base = { repository: 'team/app', user: 'alice', clientType: 'docker', clientVersion: '27.1.0' };
  rec({ ...base, method: 'POST', status: 202, operation: 'blob_upload', durationMs: 5 }, 100);
  rec({ ...base, method: 'PATCH', status: 202, operation: 'blob_upload', bytesIn: 1_000_000, durationMs: 800 }, 800);
  rec({ ...base, method: 'PUT', status: 201, operation: 'blob_upload', bytesIn: 200, durationMs: 10 }, 10);
  // Another user's upload to the same repository belongs to another push.
  rec({ ...base, user: 'bob', method: 'PATCH', status: 202, operation: 'blob_upload', bytesIn: 999, durationMs: 1 }, 1);
  rec(
    { ...base, method: 'PUT', status: 201, operation: 'manifest_put', reference: 'v1', bytesIn: 500, durationMs: 20 },
    20,
  );
  const s = a.snapshot();
  t.equal(s.recent.length, 1);
  t.same(s.recent[0], {
    kind: 'push',
    at: 1_000_000 + 100 - 5,
    repository: 'team/app',
    reference: 'v1',
    user: 'alice',
    client: 'docker',
    clientVersion: '27.1.0',
    bytes: 1_000_200,
    durationMs: 5 + 800 + 10 + 1 + 20,
  });
  t.same(pushes, ['team/app']);
  // A re-tag (no uploads since) is a push of 0 bytes lasting the manifest PUT.
  rec({ ...base, method: 'PUT', status: 201, operation: 'manifest_put', reference: 'latest', durationMs: 7 }, 7);
  t.same(a.snapshot().recent[1]!.bytes, 0);
  t.same(a.snapshot().recent[1]!.durationMs, 7);
  t.equal(a.snapshot().totals.pushes, 2);
});

t.test('a failed manifest PUT is not a push, and keeps the pending uploads', async (t) => {
  const { a, rec } = setup();
  const base = { repository: 'team/app', user: 'alice' };
  rec({ ...base, method: 'PATCH', status: 202, operation: 'blob_upload', bytesIn: 100 });
  rec({ ...base, method: 'PUT', status: 400, operation: 'manifest_put', reference: 'v1' });
  t.equal(a.snapshot().recent.length, 0);
  rec({ ...base, method: 'PUT', status: 201, operation: 'manifest_put', reference: 'v1' });
  t.equal(a.snapshot().recent[0]!.bytes, 100);
});

t.test('a pull: manifest GET, then blob GETs add bytes; the platform manifest by digest continues it', async (t) => {
  const { a, rec, pulls } = setup();
  const base = { repository: 'lib/nginx', user: 'ci', clientType: 'containerd' };
  rec({ ...base, operation: 'manifest_get', reference: 'latest', bytesOut: 1500, durationMs: 3 }, 10);
  rec({ ...base, operation: 'manifest_get', reference: `sha256:${'a'.repeat(64)}`, bytesOut: 900, durationMs: 2 }, 10);
  rec({ ...base, operation: 'blob_get', reference: 'sha256:bb', bytesOut: 5_000_000, durationMs: 400 }, 400);
  rec({ ...base, operation: 'blob_get', reference: 'sha256:cc', status: 404, bytesOut: 50 }, 1);
  const s = a.snapshot();
  t.equal(s.recent.length, 1, 'one pull, not two');
  t.equal(s.recent[0]!.kind, 'pull');
  t.equal(s.recent[0]!.reference, 'latest');
  t.equal(s.recent[0]!.bytes, 1500 + 900 + 5_000_000);
  t.equal(s.recent[0]!.durationMs, 3 + 10 + 400, 'from the manifest GET start to the last successful blob GET');
  t.same(pulls, ['lib/nginx']);
  t.equal(s.topRepositories[0]!.pulls, 1);
  t.equal(s.topClients[0]!.name, 'containerd');
});

t.test('the recent ring is bounded and oldest-first', async (t) => {
  const { a, rec } = setup(3);
  for (let i = 0; i < 5; i++) rec({ repository: `r${i}`, operation: 'manifest_get', reference: 'v1' }, 1);
  t.same(
    a.snapshot().recent.map((e) => e.repository),
    ['r2', 'r3', 'r4'],
  );
  t.equal(a.snapshot().totals.pulls, 5);
});

t.test('per-second series, status codes, 5xx errors and top lists', async (t) => {
  const { a, rec } = setup();
  rec({ status: 200, bytesIn: 10, bytesOut: 100, repository: 'a' });
  rec({ status: 200, bytesIn: 0, bytesOut: 50, repository: 'a' });
  rec({ status: 503, repository: 'b', clientType: 'podman' });
  a.tick();
  rec({ status: 404 });
  a.tick();
  const series = a.series.toJSON();
  t.same(series.requests, [3, 1]);
  t.same(series.bytesIn, [10, 0]);
  t.same(series.bytesOut, [150, 0]);
  t.same(series.errors, [1, 0]);
  const s = a.snapshot();
  t.same(s.statusCodes, { 200: 2, 404: 1, 503: 1 });
  t.same(
    s.topRepositories.map((r) => [r.name, r.requests]),
    [
      ['a', 2],
      ['b', 1],
    ],
  );
  t.same(
    s.topClients.map((r) => [r.name, r.requests]),
    [
      ['docker', 3],
      ['podman', 1],
    ],
  );
  t.equal(s.totals.errors, 1);
});
