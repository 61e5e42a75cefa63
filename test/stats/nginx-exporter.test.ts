/**
 * The real consumer: Debian's prometheus-nginx-exporter scrapes our /nginx_status and its
 * own /metrics must show what nginx would have shown.
 */
import t from 'tap';
import { freePort, hasCommand, startProcess, waitForHttp, fetchInsecure } from '../helpers/processes.js';
import { until } from './fixtures/harness.js';
import { holdOneOfEach } from './fixtures/consumers.js';

const BIN = 'prometheus-nginx-exporter';

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

t.test(
  'nginx-prometheus-exporter reads our stub_status unchanged',
  { skip: hasCommand(BIN) ? false : `${BIN} not installed` },
  async (t) => {
    const held = await holdOneOfEach(5);
    t.teardown(async () => {
      held.release();
      await held.h.close();
    });
    const port = await freePort();
    const exporter = startProcess(BIN, [
      `-nginx.scrape-uri=${held.h.base}/nginx_status`,
      `-web.listen-address=127.0.0.1:${port}`,
    ]);
    t.teardown(() => exporter.stop());
    const url = `http://127.0.0.1:${port}/metrics`;
    await waitForHttp(url, 20_000, exporter);

    const body = (
      await until(
        () => fetchInsecure(url),
        (r) => metric(r.body, 'nginx_up') === 1,
      )
    ).body;
    t.equal(metric(body, 'nginx_up'), 1, 'the exporter parsed the page');
    // The exporter's own connection is writing while it reads the page, as with nginx.
    t.equal(metric(body, 'nginx_connections_active'), 4);
    t.equal(metric(body, 'nginx_connections_reading'), 1);
    t.equal(metric(body, 'nginx_connections_writing'), 2);
    t.equal(metric(body, 'nginx_connections_waiting'), 1);
    // Exact totals: everything the server saw up to and including the exporter's scrape.
    t.equal(
      metric(body, 'nginx_http_requests_total'),
      held.requests(),
      `requests: 5 registry + 2 held + ${held.stubHits()} stub_status`,
    );
    t.equal(metric(body, 'nginx_connections_accepted'), held.connections());
    t.equal(metric(body, 'nginx_connections_handled'), held.connections());

    held.release();
    const after = await until(
      () => fetchInsecure(url),
      (r) => metric(r.body, 'nginx_connections_active') === 1,
    );
    t.equal(metric(after.body, 'nginx_connections_active'), 1, 'only the exporter left');
    t.equal(metric(after.body, 'nginx_connections_reading'), 0);
    t.equal(metric(after.body, 'nginx_connections_waiting'), 0);
    t.equal(metric(after.body, 'nginx_http_requests_total'), held.requests());
  },
);
