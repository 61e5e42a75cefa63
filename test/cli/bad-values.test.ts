/**
 * Every value the configuration parsers refuse, given to the real command line: each ends with
 * one line naming the flag (or the environment variable) and exit code 2, never a stack trace.
 * check-config reads everything resolveConfig() checks. --access and --retention are read when the
 * gateway is built, so each of those cases runs twice: starting the server (it fails before it
 * listens; the JSON log records it wrote until then are not the error line) and with check-config,
 * which must refuse the value with the same line.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/processes.js';
import { runCli } from '../helpers/run-cli.js';

interface Case {
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** The one line printed, after "portcullis: ". */
  line: RegExp;
}

t.test('values the parsers refuse: one line naming the flag, exit 2', async (t) => {
  const dir = await tempDir('bad-values-');
  t.teardown(() => removeDir(dir));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const users = file('users', 'alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n');
  const serve = ['--listen', '127.0.0.1:0', '--storage', join(dir, 'data')];
  const mirror = ['--mirror', 'hub=https://registry-1.docker.io'];
  const retention = (yaml: string) => ['--retention', yaml];
  const cases: Case[] = [
    // durations and sizes
    { args: ['check-config', '--header-timeout', '10 minutes'], line: /^--header-timeout .*not a duration/ },
    { args: ['check-config', ...mirror, '--mirror-max-size', 'lots'], line: /^--mirror-max-size .*not a size/ },
    // addresses
    { args: ['check-config', '--redirect-http', 'x:port'], line: /^--redirect-http .*"x:port" is not HOST:PORT/ },
    { args: ['check-config', '--upstream', 'http://[::1'], line: /^--upstream .*is not a URL/ },
    {
      args: ['check-config', '--upstream', 'http://r:5000/?x=1'],
      line: /^--upstream .*must not have a query or fragment/,
    },
    { args: ['check-config', '--webhook', 'hooks.example'], line: /^--webhook .*must start with http/ },
    { args: ['check-config', '--trusted-proxies', 'proxy.lan'], line: /^--trusted-proxies .*not an IP address/ },
    { args: ['check-config', '--trusted-proxies', '10.0.0.0/40'], line: /^--trusted-proxies .*invalid prefix length/ },
    { args: ['check-config', '--public-url', 'https://r.example/v2'], line: /^--public-url .*must be an origin/ },
    { args: ['check-config', '--public-url', 'registry'], line: /^--public-url .*"registry" is not a URL/ },
    // storage locations
    { args: ['check-config', '--storage', 's3://'], line: /^--storage .*not an s3:\/\/BUCKET\/PREFIX location/ },
    { args: ['check-config', '--storage', 's3://b/x'], line: /^--storage .*invalid bucket name "b"/ },
    { args: ['check-config', '--storage', 's3://bucket/a/../b'], line: /^--storage .*invalid prefix segment "\.\."/ },
    // mirrors
    { args: ['check-config', '--mirror', 'docker.io'], line: /^--mirror .*expected PREFIX=URL/ },
    { args: ['check-config', '--mirror', 'Hub=https://x.example'], line: /^--mirror .*"Hub" is not a valid/ },
    { args: ['check-config', '--mirror', 'hub=x.example'], line: /^--mirror .*"x\.example" is not a URL/ },
    { args: ['check-config', '--mirror', 'hub=ftp://x.example'], line: /^--mirror .*must be http:\/\/ or https/ },
    { args: ['check-config', '--mirror', 'hub=https://x.example/v2'], line: /^--mirror .*must be an origin/ },
    {
      args: ['check-config', ...mirror, '--mirror', 'hub=https://y.example'],
      line: /^--mirror .*prefix "hub" is given twice/,
    },
    {
      args: ['check-config', ...mirror, '--mirror', 'hub/library=https://y.example'],
      line: /^--mirror .*"hub\/library" lies inside "hub"/,
    },
    {
      args: ['check-config', ...mirror, '--mirror-credentials', join(dir, 'none.yaml')],
      line: /^--mirror-credentials .*cannot read .*none\.yaml: ENOENT/,
    },
    {
      args: ['check-config', ...mirror, '--mirror-credentials', file('creds-bad.yaml', 'hub: [unclosed\n')],
      line: /^--mirror-credentials .*is not YAML or JSON/,
    },
    {
      args: ['check-config', ...mirror, '--mirror-credentials', file('creds-list.yaml', '- hub\n')],
      line: /^--mirror-credentials .*must map each mirror prefix/,
    },
    {
      args: ['check-config', ...mirror, '--mirror-credentials', file('creds-other.yaml', 'quay: {username: a}\n')],
      line: /^--mirror-credentials .*names "quay", which is not a --mirror prefix/,
    },
    {
      args: ['check-config', ...mirror, '--mirror-credentials', file('creds-half.yaml', 'hub: {username: a}\n')],
      line: /^--mirror-credentials .*"hub" needs a username and a password/,
    },
    {
      args: ['check-config', ...mirror],
      env: { PORTCULLIS_MIRROR_AUTH_HUB: 'token-only' },
      line: /^--mirror-credentials .*PORTCULLIS_MIRROR_AUTH_HUB must be USER:PASSWORD/,
    },
    // the gc command's own flags
    {
      args: ['gc', '--storage', join(dir, 'data'), '--grace-period', 'soon'],
      line: /^--grace-period: invalid duration "soon"/,
    },
    { args: ['gc', '--storage', 's3://b/x'], line: /^--storage: invalid bucket name "b"/ },
  ];
  // What the server reads only as it starts: refused by the server start and by check-config alike.
  const readAtStart: Case[] = [
    // access rules
    {
      args: ['--htpasswd', users, '--access', file('access-yaml', 'groups: [\n')],
      line: /^--access: .*access-yaml: invalid YAML/,
    },
    {
      args: ['--htpasswd', users, '--access', file('access-shape', 'rules: 7\n')],
      line: /^--access: .*access-shape: rules: /,
    },
    // retention rules
    { args: retention('[7]'), line: /^--retention: retention rule 1: expected a mapping/ },
    { args: retention('[{repositories: "*", keep: 3}]'), line: /^--retention: retention rule 1: unknown key "keep"/ },
    { args: retention('[{repositories: []}]'), line: /^--retention: retention rule 1: repositories must be a glob/ },
    {
      args: retention('[{repositories: "*", keepPushedWithin: soon}]'),
      line: /^--retention: retention rule 1: keepPushedWithin: not a duration/,
    },
    { args: retention('[{keepLast: 3}]'), line: /^--retention: retention rule 1: "repositories" is required/ },
    {
      args: retention('[{repositories: "*", keepLast: -1}]'),
      line: /^--retention: retention rule 1: keepLast must be a whole number/,
    },
    {
      args: retention('[{repositories: "*", deleteOrphanReferrers: "yes"}]'),
      line: /^--retention: retention rule 1: deleteOrphanReferrers must be true or false/,
    },
  ];
  for (const c of readAtStart)
    cases.push({ ...c, args: [...serve, ...c.args] }, { ...c, args: ['check-config', ...serve, ...c.args] });
  for (const c of cases) {
    const r = runCli(c.args, c.env);
    // A server that got as far as building the gateway has logged (JSON records) before it stopped.
    const said = r.stderr
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('{'))
      .join('\n');
    const what = [...Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`), ...c.args].join(' ');
    t.equal(r.code, 2, `${what}: exit 2 (${said})`);
    t.match(said, new RegExp(`^portcullis(?: gc)?: ${c.line.source.slice(1)}`), `${what}: names the flag`);
    t.equal(said.split('\n').length, 1, `${what}: one line`);
  }
});
