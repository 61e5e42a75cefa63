/** The mirror options as an operator meets them: one line naming the flag and exit 2 on bad input. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PORTCULLIS_BIN, tempDir } from '../helpers/processes.js';
import { loadCredentials, parseMirrors, parseSize } from '../../src/mirror/mirror-config.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [PORTCULLIS_BIN, 'check-config', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('bad mirror options end start-up with one line naming the flag, exit 2', async (t) => {
  const dir = await tempDir();
  const creds = join(dir, 'creds.yaml');
  writeFileSync(creds, 'other:\n  username: u\n  password: hunter2\n');
  const cases: [string[], RegExp][] = [
    [['--mirror', 'dockerhub'], /^portcullis: --mirror \(PORTCULLIS_MIRROR\): expected PREFIX=URL/],
    [['--mirror', 'Hub=https://x.io'], /--mirror .*"Hub" is not a valid repository prefix/],
    [['--mirror', 'hub=ftp://x.io'], /--mirror .*must be http:\/\/ or https:\/\//],
    [['--mirror', 'hub=https://x.io/v2'], /--mirror .*must be an origin/],
    [['--mirror', 'hub=https://a.io', '--mirror', 'hub=https://b.io'], /--mirror .*given twice/],
    [['--mirror', 'hub=https://a.io', '--mirror', 'hub/x=https://b.io'], /--mirror .*lies inside "hub"/],
    [['--mirror', 'hub=https://a.io', '--mirror-default', 'ghcr'], /^portcullis: --mirror-default .*not the PREFIX/],
    [['--mirror', 'hub=https://a.io', '--mirror-max-size', 'lots'], /^portcullis: --mirror-max-size .*not a size/],
    [['--mirror-max-size', '1GiB'], /^portcullis: --mirror-max-size .*only makes sense with --mirror/],
    [['--mirror', 'hub=https://a.io', '--mirror-tag-ttl', 'soon'], /^portcullis: --mirror-tag-ttl .*not a duration/],
    [['--mirror', 'hub=https://a.io', '--upstream', 'http://r:5000'], /^portcullis: --mirror .*embedded registry/],
    [['--mirror', 'hub=https://a.io', '--mirror-credentials', creds], /--mirror-credentials .*"other", which is not/],
    [['--mirror', 'hub=https://a.io', '--mirror-credentials', join(dir, 'nope')], /--mirror-credentials .*ENOENT/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re, args.join(' '));
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.notMatch(r.stderr, /hunter2/, 'no password in the message');
  }
  const ok = run([
    '--mirror',
    'hub=https://registry-1.docker.io',
    '--mirror-default',
    'hub',
    '--mirror-max-size',
    '2GiB',
  ]);
  t.equal(ok.code, 0, ok.stderr);
});

t.test('parsers', async (t) => {
  t.equal(parseSize('512MiB'), 512 << 20);
  t.equal(parseSize('2GB'), 2e9);
  t.equal(parseSize('1000'), 1000);
  t.throws(() => parseSize('-1G'));
  const hub = parseMirrors(['dockerhub/=https://registry-1.docker.io'])[0]!;
  t.equal(hub.prefix, 'dockerhub', 'a trailing slash on the prefix is dropped');
  t.equal(hub.url.origin, 'https://registry-1.docker.io');
  const creds = loadCredentials([hub], undefined, { PORTCULLIS_MIRROR_AUTH_DOCKERHUB: 'me:pa:ss' });
  t.same(creds.get('dockerhub'), { username: 'me', password: 'pa:ss' }, 'credentials from the environment');
  t.throws(
    () => loadCredentials([hub], undefined, { PORTCULLIS_MIRROR_AUTH_DOCKERHUB: 'nocolon' }),
    /PORTCULLIS_MIRROR_AUTH_DOCKERHUB must be USER:PASSWORD/,
  );
});
