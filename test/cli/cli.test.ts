/** The command line as an operator meets it: --help, one-line errors with exit code 2, check-config, config-schema. */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { runCli } from '../helpers/run-cli.js';
import { OPTIONS, flagName, envName } from '../../src/config/options.js';

const run = runCli;

/** A scratch directory holding an htpasswd file with one user, alice. */
async function withUsersFile(): Promise<{ dir: string; users: string }> {
  const dir = await tempDir();
  const users = join(dir, 'users');
  writeFileSync(users, 'alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n');
  return { dir, users };
}

t.test('--help documents every option with its env name', async (t) => {
  const { code, stdout } = run(['--help']);
  t.equal(code, 0);
  for (const name of Object.keys(OPTIONS)) {
    t.ok(stdout.includes(`--${flagName(name)}`), `--${flagName(name)}`);
    t.ok(stdout.includes(envName(name)), envName(name));
  }
  t.match(stdout, /\[default: 15m\]/, 'defaults shown with units');
});

t.test('bad input ends start-up with one line naming the flag, exit 2', async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--idle-timout', '5s'], {}, /^portcullis: --idle-timout: unknown option \(did you mean --idle-timeout\?\)/],
    [
      ['--upstream', 'registry:5000'],
      {},
      /^portcullis: --upstream \(PORTCULLIS_UPSTREAM\): "registry:5000" must start with http/,
    ],
    [
      ['--tls-cert', '/missing.pem', '--tls-key', '/missing.key'],
      {},
      /^portcullis: --tls-cert .*cannot read \/missing\.pem: ENOENT/,
    ],
    [['--idle-timeout', 'soon'], {}, /^portcullis: --idle-timeout .*not a duration/],
    [['--listen', '0.0.0.0:5000'], {}, /--listen .*no --htpasswd/],
    [['--htpasswd', '/missing.htpasswd'], {}, /--htpasswd .*cannot read \/missing\.htpasswd/],
    [[], { PORTCULLIS_LISTEN: 'nonsense' }, /--listen \(PORTCULLIS_LISTEN\): "nonsense" is not HOST:PORT/],
    [
      ['--workers', '0'],
      {},
      /^portcullis: --workers \(PORTCULLIS_WORKERS\): expected a number from 1 to 256 or "auto"/,
    ],
    [['--workers', 'many'], {}, /^portcullis: --workers .*got "many"/],
    [['--block-user-agent', '('], {}, /^portcullis: --block-user-agent: invalid regular expression "\("/],
  ];
  for (const [args, env, re] of cases) {
    const r = run(args, env);
    t.equal(r.code, 2, args.join(' ') || JSON.stringify(env));
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});

t.test('--token-key: a file with a weak key or in a missing directory is refused by name', async (t) => {
  const { dir, users } = await withUsersFile();
  const weak = join(dir, 'weak.key');
  writeFileSync(weak, '# rotated in 2026\nshort\n');
  for (const [file, re] of [
    [weak, /^portcullis: --token-key .*key 1 has 5 characters, at least 32/],
    [join(dir, 'no', 'such', 'token.key'), /^portcullis: --token-key .*directory .* does not exist/],
  ] as const) {
    for (const cmd of [['check-config'], []]) {
      const r = run([...cmd, '--htpasswd', users, '--token-key', file, '--storage', dir]);
      t.equal(r.code, 2, `${cmd[0] ?? 'serve'} ${file}`);
      t.match(r.stderr, re);
    }
  }
});

t.test('a port already in use is reported with the flag', async (t) => {
  const net = await import('node:net');
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const dir = await tempDir();
  const r = run(['--listen', `127.0.0.1:${port}`, '--storage', dir]);
  t.equal(r.code, 2);
  t.match(r.stderr, new RegExp(`--listen 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
});

t.test('a storage that cannot be used is reported with the flag', async (t) => {
  const dir = await tempDir();
  const file = join(dir, 'not-a-directory');
  writeFileSync(file, 'x');
  const r = run(['--storage', file]);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /^portcullis: --storage: /);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

t.test('check-config prints the effective configuration and where values came from', async (t) => {
  const dir = await tempDir();
  const file = join(dir, 'portcullis.yaml');
  writeFileSync(file, 'common:\n  realm: corp\nprod:\n  idleTimeout: 30m\n');
  const r = run(['check-config', '--config', file, '--flavor', 'prod', '--log-level', 'warn'], {
    PORTCULLIS_HSTS: 'true',
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /configuration is valid/);
  t.match(r.stdout, /realm: corp\s+# from file/);
  t.match(r.stdout, /idleTimeout: 30m\s+# from file/);
  t.match(r.stdout, /logLevel: warn\s+# from flag/);
  t.match(r.stdout, /hsts: true\s+# from env/);
  const bad = run(['check-config', '--config', file, '--flavor', 'staging']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /section "staging" not found/);
});

t.test('check-config accepts the --access and --retention rules the server would start with', async (t) => {
  const { dir, users } = await withUsersFile();
  const access = join(dir, 'access.yaml');
  writeFileSync(access, 'rules:\n  - repository: "team/*"\n    users: [alice]\n    actions: [pull, push]\n');
  const r = run([
    'check-config',
    '--storage',
    dir,
    '--htpasswd',
    users,
    '--access',
    access,
    '--retention',
    '[{repositories: "*", keepLast: 3}]',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /configuration is valid/);
  t.equal(r.stderr, '', 'nothing on stderr');
});

t.test('config-schema prints a JSON schema covering every file option', async (t) => {
  const r = run(['config-schema']);
  t.equal(r.code, 0);
  const schema = JSON.parse(r.stdout);
  t.equal(schema.properties.upstream.type, 'array');
  t.equal(schema.properties.idleTimeout.default, '15m');
  t.same(schema.properties.logFormat.enum, ['json', 'combined']);
});
