/**
 * The real consumer: a Prometheus server scrapes /metrics; the target must be up with no
 * scrape error, and a query must return what the traffic produced.
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchInsecure, freePort, hasCommand, removeDir, startProcess, tempDir, waitForHttp } from '../helpers/processes.js';
import { startHarness, until } from './harness.js';
import { simulatePull, simulatePush } from './traffic.js';

interface Target { health: string; lastError: string; scrapeUrl: string }

t.test('prometheus scrapes /metrics: target up, no errors, values queryable', { skip: hasCommand('prometheus') ? false : 'prometheus not installed' }, async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  await simulatePush(h.base, 'team/app', 'v1', { user: 'alice' });
  await simulatePull(h.base, 'team/app', 'v1');
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
    async () => JSON.parse((await fetchInsecure(`${api}/targets`)).body).data.activeTargets as Target[],
    (ts) => ts.length === 1 && ts[0]!.health === 'up',
    30_000, 250,
  );
  t.equal(targets[0]!.health, 'up', prom.output());
  t.equal(targets[0]!.lastError, '', 'no scrape or parse error');
  t.equal(targets[0]!.scrapeUrl, `http://127.0.0.1:${h.port}/metrics`);

  const query = async (q: string) => JSON.parse((await fetchInsecure(`${api}/query?query=${encodeURIComponent(q)}`)).body).data.result as { metric: Record<string, string>; value: [number, string] }[];
  const pushes = await until(() => query('portcullis_pushes_total'), (r) => r.length > 0, 10_000, 250);
  t.same(pushes.map((r) => [r.metric.repository, r.value[1]]), [['team/app', '1']]);
  const samples = await query('scrape_samples_scraped{job="portcullis"}');
  t.ok(Number(samples[0]?.value[1]) > 100, 'the whole exposition was ingested');
  const up = await query('up{job="portcullis"}');
  t.equal(up[0]?.value[1], '1');
});
