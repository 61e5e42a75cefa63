/**
 * Golden tests for nginx's stub_status bytes (ngx_http_stub_status_module.c): a space
 * before each newline on lines 1, 3 and 4, a leading space on line 3.
 */
import t from 'tap';
import { renderStubStatus } from '../../src/stats/index.js';
import { get, startHarness } from './fixtures/harness.js';

t.test('renders the exact bytes of nginx stub_status (trailing spaces included)', async (t) => {
  const text = renderStubStatus({
    active: 291,
    accepted: 16630948,
    handled: 16630948,
    requests: 31070465,
    reading: 6,
    writing: 179,
    waiting: 106,
  });
  // The sample from https://nginx.org/r/stub_status, spaces spelled out.
  t.equal(
    text,
    'Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n',
  );
  t.same(
    Buffer.from(text).toString('hex'),
    Buffer.from(
      'Active connections: 291 \n' +
        'server accepts handled requests\n' +
        ' 16630948 16630948 31070465 \n' +
        'Reading: 6 Writing: 179 Waiting: 106 \n',
    ).toString('hex'),
  );
});

t.test('the page of a fresh server counts itself like nginx: 1 active, writing 1, 1 request', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const r = await get(h.base, '/nginx_status');
  t.equal(r.status, 200);
  t.equal(
    r.body,
    'Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n',
  );
  t.equal(r.headers['content-type'], 'text/plain');
  t.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
});

t.test('HEAD answers headers only, other methods 405 like nginx', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  const head = await get(h.base, '/nginx_status', {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
  t.ok(Number(head.headers['content-length']) > 80);
  const post = await get(h.base, '/nginx_status', {}, 'POST', 'x');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
});

t.test('a query string still reaches the page; other paths are left to the gateway', async (t) => {
  const h = await startHarness();
  t.teardown(h.close);
  t.equal((await get(h.base, '/nginx_status?x=1')).status, 200);
  const other = await get(h.base, '/nginx_statusx');
  t.notMatch(other.body, /Active connections/, 'the gateway answered, not stats');
  t.equal(h.records.length, 1, 'only the non-stats request was recorded');
});
