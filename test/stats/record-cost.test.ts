/**
 * record() runs once per request on the gateway's hot path: measure it and keep it cheap.
 * The bound is generous (CI machines vary); the measured figure is printed.
 */
import t from 'tap';
import { pino } from 'pino';
import { createStats, type RequestRecord } from '../../src/stats/index.js';

t.test('record() costs a few microseconds at most', async (t) => {
  const stats = createStats({
    allow: [],
    stubStatusPath: '/nginx_status',
    metricsPath: '/metrics',
    dashboardPath: '/-/stats',
    topN: 20,
    version: 'bench',
    health: async () => [],
    logger: pino({ level: 'silent' }),
  });
  t.teardown(() => stats.close());
  const ops: RequestRecord['operation'][] = ['blob_head', 'blob_get', 'manifest_get', 'blob_upload', 'manifest_head'];
  // A realistic mix, built up front so the loop measures record() and nothing else.
  const records: RequestRecord[] = Array.from({ length: 1000 }, (_, i) => ({
    method: i % 7 === 0 ? 'PATCH' : i % 3 === 0 ? 'HEAD' : 'GET',
    status: i % 50 === 0 ? 404 : 200,
    operation: ops[i % ops.length]!,
    repository: `team/app${i % 30}`,
    reference: i % 2 ? 'latest' : 'sha256:abc',
    user: `user${i % 5}`,
    clientType: ['docker', 'podman', 'containerd', 'skopeo'][i % 4]!,
    clientVersion: '1.0',
    bytesIn: i % 7 === 0 ? 5_000_000 : 0,
    bytesOut: 1234,
    durationMs: (i % 100) + 0.5,
    upstreamMs: (i % 90) + 0.3,
    upstreamMember: 'http://registry:5000',
  }));
  const run = (n: number) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) stats.record(records[i % 1000]!);
    return Number(process.hrtime.bigint() - start) / n;
  };
  run(200_000); // warm up: let V8 optimise, create every series
  const perCall = Math.min(run(500_000), run(500_000), run(500_000));
  t.comment(`record(): ${perCall.toFixed(0)} ns per call`);
  t.ok(perCall < 3_000, `record() took ${perCall.toFixed(0)} ns per call`);
});
