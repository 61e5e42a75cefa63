/**
 * The real consumer: a Prometheus server scrapes /metrics; the target must be up with no
 * scrape error, and a query must return what the traffic produced.
 */
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ROOT,
  fetchInsecure,
  freePort,
  hasCommand,
  removeDir,
  startProcess,
  tempDir,
  waitForHttp,
} from '../helpers/processes.js';
import { startHarness, until } from './fixtures/harness.js';
import { recordRefusedUpstream, simulatePull, simulatePush } from './fixtures/traffic.js';

interface Target {
  health: string;
  lastError: string;
  scrapeUrl: string;
}

t.test(
  'prometheus scrapes /metrics: target up, no errors, values queryable',
  { skip: hasCommand('prometheus') ? false : 'prometheus not installed' },
  async (t) => {
    const h = await startHarness({ users: ['alice'] });
    t.teardown(h.close);
    await simulatePush(h.base, 'team/app', 'v1', { user: 'alice' });
    await simulatePull(h.base, 'team/app', 'v1');
    // Labelled counters only appear once they have a series: give every one of them one.
    h.stats.authFailure('bad_password');
    h.stats.blockedAgent('docker-1.5');
    recordRefusedUpstream(h.stats);
    const dir = await tempDir('stats-prometheus-');
    t.teardown(() => removeDir(dir));
    const port = await freePort();
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: portcullis',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${h.port}']`,
      '',
    ].join('\n');
    await writeFile(join(dir, 'prometheus.yml'), config);
    const prom = startProcess('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    t.teardown(() => prom.stop());
    const api = `http://127.0.0.1:${port}/api/v1`;
    await waitForHttp(`${api}/targets`, 30_000, prom);
    const targets = await until(
      // Prometheus answers 503 "Service Unavailable" (not JSON) until its storage is ready.
      async () => {
        const r = await fetchInsecure(`${api}/targets`);
        return r.status === 200 ? (JSON.parse(r.body).data.activeTargets as Target[]) : [];
      },
      (ts) => ts.length === 1 && ts[0]!.health === 'up',
      30_000,
      250,
    );
    t.equal(targets[0]!.health, 'up', prom.output());
    t.equal(targets[0]!.lastError, '', 'no scrape or parse error');
    t.equal(targets[0]!.scrapeUrl, `http://127.0.0.1:${h.port}/metrics`);

    const query = async (q: string) =>
      JSON.parse((await fetchInsecure(`${api}/query?query=${encodeURIComponent(q)}`)).body).data.result as {
        metric: Record<string, string>;
        value: [number, string];
      }[];
    const pushes = await until(
      () => query('portcullis_pushes_total'),
      (r) => r.length > 0,
      10_000,
      250,
    );
    t.same(
      pushes.map((r) => [r.metric.repository, r.value[1]]),
      [['team/app', '1']],
    );
    const samples = await query('scrape_samples_scraped{job="portcullis"}');
    t.ok(Number(samples[0]?.value[1]) > 100, 'the whole exposition was ingested');
    const up = await query('up{job="portcullis"}');
    t.equal(up[0]?.value[1], '1');

    // Every query of the shipped Grafana dashboard is valid PromQL against real data, and
    // names only metrics that exist.
    const dashboard = JSON.parse(
      await readFile(join(ROOT, 'examples', 'monitoring', 'grafana-dashboard.json'), 'utf8'),
    ) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const names = new Set(
      (await fetchInsecure(`${api}/label/__name__/values`).then((r) => JSON.parse(r.body).data)) as string[],
    );
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ title: p.title, expr: x.expr })));
    t.ok(exprs.length >= 20, `${exprs.length} dashboard queries`);
    for (const { title, expr } of exprs) {
      const q = expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__range', '1h')
        .replaceAll('$job', '.*')
        .replaceAll('$instance', '.*');
      const r = JSON.parse((await fetchInsecure(`${api}/query?query=${encodeURIComponent(q)}`)).body) as {
        status: string;
        error?: string;
      };
      t.equal(r.status, 'success', `${title}: ${r.error ?? ''}`);
      for (const m of q.matchAll(/\b((?:portcullis|process|nodejs)_[a-z0-9_]+)/g))
        t.ok(names.has(m[1]!), `${title}: ${m[1]} is scraped`);
    }
  },
);

t.test(
  'the example prometheus.yml passes promtool check config',
  { skip: hasCommand('promtool') ? false : 'promtool not installed' },
  async (t) => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('promtool', ['check', 'config', join(ROOT, 'examples', 'monitoring', 'prometheus.yml')], {
      encoding: 'utf8',
    });
    t.equal(r.status, 0, r.stdout + r.stderr);
    t.match(r.stdout + r.stderr, /SUCCESS/);
  },
);
