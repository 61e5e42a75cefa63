import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { tempDir } from '../helpers/processes.js';

t.test('defaults give a loopback embedded registry on port 5000', async (t) => {
  const { config } = loadConfig({ flags: {}, env: {} });
  t.same(config.listen, ['127.0.0.1:5000']);
  t.same(config.upstream, []);
  t.equal(config.idleTimeout, 900_000, 'idle timeout like proxy_read_timeout 900');
  t.equal(config.storage, './data');
});

t.test('flags beat env, env beats the file, the file beats defaults', async (t) => {
  const dir = await tempDir();
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'realm: from-file\nlogLevel: debug\nidleTimeout: 20m\nlisten: [127.0.0.1:7000]\n');
  const { config, sources } = loadConfig({
    flags: { config: file, realm: 'from-flag' },
    env: { PORTCULLIS_REALM: 'from-env', PORTCULLIS_LOG_LEVEL: 'warn' },
  });
  t.equal(config.realm, 'from-flag');
  t.equal(sources.realm, 'flag');
  t.equal(config.logLevel, 'warn');
  t.equal(sources.logLevel, 'env');
  t.equal(config.idleTimeout, 1_200_000);
  t.same(config.listen, ['127.0.0.1:7000']);
});

t.test('env lists are comma separated', async (t) => {
  const { config } = loadConfig({ flags: {}, env: { PORTCULLIS_UPSTREAM: 'http://a:5000, http://b:5000' } });
  t.same(config.upstream, ['http://a:5000', 'http://b:5000']);
});

t.test('flavors: a section inherits from common', async (t) => {
  const dir = await tempDir();
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'common:\n  realm: shared\n  logLevel: info\nprod:\n  logLevel: warn\n');
  const { config } = loadConfig({ flags: { config: file, flavor: 'prod' }, env: {} });
  t.equal(config.realm, 'shared');
  t.equal(config.logLevel, 'warn');
  t.throws(
    () => loadConfig({ flags: { config: file, flavor: 'staging' }, env: {} }),
    /--flavor .*section "staging" not found/,
  );
});

t.test('errors name the flag, the env variable and the reason in one line', async (t) => {
  const cases: [Record<string, unknown>, NodeJS.ProcessEnv, RegExp][] = [
    [{ idleTimeout: 'forever' }, {}, /^--idle-timeout \(PORTCULLIS_IDLE_TIMEOUT\): not a duration/],
    [{}, { PORTCULLIS_LOG_FORMAT: 'xml' }, /^--log-format \(PORTCULLIS_LOG_FORMAT\): must be one of json, combined/],
    [
      {},
      { PORTCULLIS_IDLE_TIMOUT: '1s' },
      /PORTCULLIS_IDLE_TIMOUT: unknown environment variable \(did you mean PORTCULLIS_IDLE_TIMEOUT\?\)/,
    ],
    [{}, { PORTCULLIS_HSTS: 'maybe' }, /--hsts \(PORTCULLIS_HSTS\): expected true or false/],
  ];
  for (const [flags, env, re] of cases) {
    const err = t.throws(() => loadConfig({ flags, env })) as Error;
    t.match(err.message, re);
    t.notOk(err.message.includes('\n'), 'one line');
  }
});

t.test('unknown keys in the config file are refused with a suggestion', async (t) => {
  const dir = await tempDir();
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'upstreams: [http://127.0.0.1:5000]\n');
  t.throws(
    () => loadConfig({ flags: { config: file }, env: {} }),
    /unknown option "upstreams" .*did you mean "upstream"/,
  );
});

t.test('resolve: bad URL, missing cert, exposed without auth', async (t) => {
  const base = loadConfig({ flags: {}, env: {} }).config;
  t.throws(
    () => resolveConfig({ ...base, upstream: ['127.0.0.1:5000'] }),
    /--upstream \(PORTCULLIS_UPSTREAM\): .* must start with http/,
  );
  t.throws(() => resolveConfig({ ...base, upstream: ['http://'] }), /--upstream .*is not a URL/);
  t.throws(
    () => resolveConfig({ ...base, tlsCert: '/nonexistent.pem', tlsKey: '/nonexistent.key' }),
    /--tls-cert .*cannot read \/nonexistent.pem: ENOENT/,
  );
  t.throws(() => resolveConfig({ ...base, tlsCert: '/x.pem' }), /--tls-key .*required/);
  t.throws(() => resolveConfig({ ...base, listen: ['0.0.0.0:5000'] }), /--listen .*no --htpasswd/);
  t.doesNotThrow(() => resolveConfig({ ...base, listen: ['0.0.0.0:5000'], insecureNoAuth: true }));
  t.throws(() => resolveConfig({ ...base, listen: ['nope'] }), /--listen .*not HOST:PORT/);
  t.throws(() => resolveConfig({ ...base, trustedProxies: ['10.0.0.0/40'] }), /--trusted-proxies .*prefix/);
  t.throws(() => resolveConfig({ ...base, corsOrigin: ['*'] }), /--cors-origin .*credentials/);
  t.ok(new ConfigError('listen', 'x').message.startsWith('--listen (PORTCULLIS_LISTEN)'));
});
