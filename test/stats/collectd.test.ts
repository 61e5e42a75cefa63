/**
 * The real consumer: Debian's collectd with its nginx plugin (what seed 000 runs against
 * /nginx_status) reads our page; the csv plugin writes what it read, and we check it.
 */
import t from 'tap';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCommand, removeDir, startProcess, tempDir } from '../helpers/processes.js';
import { until } from './fixtures/harness.js';
import { holdOneOfEach } from './fixtures/consumers.js';

const BIN = '/usr/sbin/collectd';

/** The rows of one collectd CSV file as [epoch, value]. */
async function rows(dir: string, prefix: string): Promise<[number, number][]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith(`${prefix}-20`));
  const out: [number, number][] = [];
  for (const f of files.sort()) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n').slice(1)) {
      const [time, value] = line.split(',');
      if (time && value !== undefined) out.push([Number(time), Number(value)]);
    }
  }
  return out;
}

t.test(
  'collectd nginx plugin reads our stub_status (csv output checked)',
  { skip: hasCommand(BIN) ? false : 'collectd not installed' },
  async (t) => {
    const held = await holdOneOfEach(5);
    t.teardown(async () => {
      held.release();
      await held.h.close();
    });
    const dir = await tempDir('stats-collectd-');
    t.teardown(() => removeDir(dir));
    // The same plugin block seed 000 configures (collectd::plugin::nginx url => .../nginx_status).
    const conf = [
      'Hostname "portcullis-test"',
      'FQDNLookup false',
      `BaseDir "${dir}"`,
      `PIDFile "${join(dir, 'collectd.pid')}"`,
      'PluginDir "/usr/lib/collectd"',
      'TypesDB "/usr/share/collectd/types.db"',
      'Interval 1',
      'LoadPlugin nginx',
      'LoadPlugin csv',
      '<Plugin nginx>',
      `  URL "${held.h.base}/nginx_status"`,
      '</Plugin>',
      '<Plugin csv>',
      `  DataDir "${join(dir, 'csv')}"`,
      '  StoreRates false',
      '</Plugin>',
      '',
    ].join('\n');
    const confFile = join(dir, 'collectd.conf');
    await writeFile(confFile, conf);
    const collectd = startProcess(BIN, ['-f', '-C', confFile]);
    t.teardown(() => collectd.stop());
    const out = join(dir, 'csv', 'portcullis-test', 'nginx');
    await until(
      () => rows(out, 'nginx_requests'),
      (r) => r.length >= 3,
      20_000,
      200,
    );

    const gauge = async (name: string) => (await rows(out, `nginx_connections-${name}`)).at(-1)?.[1];
    // collectd's own connection is writing while it reads the page.
    t.equal(await gauge('active'), 4, collectd.output());
    t.equal(await gauge('reading'), 1);
    t.equal(await gauge('writing'), 2);
    t.equal(await gauge('waiting'), 1);
    const accepted = (await rows(out, 'connections-accepted')).at(-1)?.[1];
    const handled = (await rows(out, 'connections-handled')).at(-1)?.[1];
    t.ok(accepted !== undefined && accepted >= 5 + 3 + 1 && accepted <= held.connections(), `accepted ${accepted}`);
    t.equal(handled, accepted);
    // Requests: each collectd read adds one (its own), on top of 5 registry + 2 held requests.
    const requests = (await rows(out, 'nginx_requests')).map(([, v]) => v);
    const base = 5 + 2;
    t.equal(requests[0]! - base >= 1, true, `first read counts itself: ${requests[0]}`);
    for (let i = 1; i < requests.length; i++)
      t.equal(requests[i]! - requests[i - 1]!, 1, 'one more request per read, nothing else');
    t.ok(requests.at(-1)! <= base + held.stubHits(), 'never more than the requests the server saw');
  },
);

t.test(
  'the example collectd.conf passes collectd -t',
  { skip: hasCommand(BIN) ? false : 'collectd not installed' },
  async (t) => {
    const { spawnSync } = await import('node:child_process');
    const { ROOT } = await import('../helpers/processes.js');
    const r = spawnSync(BIN, ['-t', '-C', join(ROOT, 'examples', 'monitoring', 'collectd.conf')], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stdout + r.stderr);
  },
);
