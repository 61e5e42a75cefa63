/**
 * `docker search HOST/term` with the real docker client against portcullis
 * with the embedded core: the daemon speaks the v1 index API (/v1/_ping, /v1/search) to the
 * registry host. Repositories are pushed with skopeo. Names match anywhere, tags do not (the
 * description lists them); the whole catalog is searched, so a name that sorts after 1,200
 * others is found. Without auth every match is listed; with --htpasswd and --access the search
 * needs a `docker login` and lists only what the user may pull. A private dockerd
 * (test/helpers/dockerd.ts) and one DOCKER_CONFIG per user.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { makeOciImage, type GeneratedImage } from '../helpers/oci-image.js';
import { skopeo, execFileP, missingCommand } from '../helpers/processes.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';
import { portcullisFor } from '../helpers/scoped.js';
import { pushBlob } from '../registry/fixtures/harness.js';

const docker = await dockerdForFile(t, { missing: missingCommand('htpasswd', 'apache2-utils') });

/** NAME column of `docker search`'s default table (header checked, rows in order). */
function names(output: string): { header: string; rows: string[] } {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift() ?? '';
  return { header, rows: lines.map((l) => l.split(/\s+/)[0]!) };
}

async function push(image: GeneratedImage, host: string, ref: string, creds?: string): Promise<void> {
  await skopeo([
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', creds] : []),
    `oci:${image.dir}:${image.tag}`,
    `docker://${host}/${ref}`,
  ]);
}

if (docker) {
  const { dk, work } = docker;
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [1024] });

  const search = (host: string, term: string, config?: string, extra: string[] = []) =>
    dk.run(['search', ...extra, `${host}/${term}`], { config, timeoutMs: 120_000 });

  t.test('no auth, plain HTTP: docker search lists repositories whose name matches', async (t) => {
    const { host } = await portcullisFor(t, ['--storage', join(work, 'open')]);
    await push(image, host, 'team/alpha:v1');
    await push(image, host, 'tools/beta:build-42');
    await push(image, host, 'team/gamma:latest');

    const team = await search(host, 'team');
    t.equal(team.code, 0, `docker search succeeds${team.code ? `: ${team.output}` : ''}`);
    const table = names(team.stdout);
    t.match(table.header, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL/, 'docker prints its search table');
    t.same(table.rows, ['team/alpha', 'team/gamma'], 'NAME rows: the repositories matching "team"');
    t.match(team.stdout, /team\/alpha\s+tags: v1\s+0\s/, 'the description lists the tags, stars are 0');

    const beta = names((await search(host, 'beta')).stdout);
    t.same(beta.rows, ['tools/beta'], 'search by part of a name');

    const byTag = await search(host, 'build-42');
    t.equal(byTag.code, 0, `a search for a tag succeeds${byTag.code ? `: ${byTag.output}` : ''}`);
    t.same(names(byTag.stdout).rows, [], 'tags do not match (as on Docker Hub): only names');

    const none = await search(host, 'nothing-like-this');
    t.equal(none.code, 0, 'a search without matches succeeds');
    t.same(names(none.stdout).rows, [], 'and lists no rows');

    const formatted = await dk.run(['search', '--format', '{{.Name}}', '--limit', '1', `${host}/a`], {
      timeoutMs: 120_000,
    });
    t.equal(formatted.code, 0, `--format/--limit work${formatted.code ? `: ${formatted.output}` : ''}`);
    t.same(formatted.stdout.trim().split('\n'), ['team/alpha'], '--limit 1 gives the first match only');

    // A push through the gateway is searchable at once.
    await push(image, host, 'tools/delta:v9');
    t.same(
      names((await search(host, 'tools')).stdout).rows,
      ['tools/beta', 'tools/delta'],
      'a fresh push shows up at once',
    );
  });

  t.test('1,200 repositories: docker search covers the whole catalog, by infix, with --limit', async (t) => {
    const { host } = await portcullisFor(t, ['--storage', join(work, 'bulk')]);
    // Cheap repositories: one blob each (a repository exists once something is stored in it).
    const bulk = Array.from({ length: 1200 }, (_, i) => `bulk/app-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < bulk.length; i += 16)
      await Promise.all(bulk.slice(i, i + 16).map((name) => pushBlob(`http://${host}`, name, `blob of ${name}`)));
    await push(image, host, 'zz/needle-tool:v1');

    const last = await search(host, 'needle');
    t.equal(last.code, 0, `docker search succeeds${last.code ? `: ${last.output}` : ''}`);
    t.same(names(last.stdout).rows, ['zz/needle-tool'], 'a name that sorts after 1,200 others is found');
    t.match(last.stdout, /zz\/needle-tool\s+tags: v1\s/, 'with its tag in the description');
    t.same(names((await search(host, 'dle-to')).stdout).rows, ['zz/needle-tool'], 'and by a part inside the name');
    t.same(
      names((await search(host, 'app-1199')).stdout).rows,
      ['bulk/app-1199'],
      'the last of the bulk repositories is found too',
    );

    const many = await search(host, 'app-1', undefined, ['--limit', '100']);
    t.equal(many.code, 0, `--limit 100 succeeds${many.code ? `: ${many.output}` : ''}`);
    t.same(
      names(many.stdout).rows,
      bulk.filter((n) => n.includes('app-1')).slice(0, 100),
      '--limit 100 of 200 matches: the first 100 in catalog order',
    );
  });

  t.test(
    '--htpasswd and --access over TLS: search needs docker login and lists only what the user may pull',
    async (t) => {
      const htpasswd = join(work, 'users.htpasswd');
      await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'pw-alice']);
      await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, 'bob', 'pw-bob']);
      const access = join(work, 'access.yaml');
      await writeFile(
        access,
        [
          'rules:',
          '  - repository: "*"',
          '    users: [alice]',
          '    actions: ["*"]',
          '  - repository: "team/*"',
          '    users: [bob]',
          '    actions: [pull]',
          '',
        ].join('\n'),
      );
      const { host } = await portcullisFor(
        t,
        ['--storage', join(work, 'auth'), '--htpasswd', htpasswd, '--access', access],
        { tls: true },
      );
      for (const ref of ['team/alpha:v1', 'tools/beta:build-42', 'secret/alpha:v1'])
        await push(image, host, ref, 'alice:pw-alice');

      const anon = await dk.newConfig('anon');
      const refused = await search(host, 'alpha', anon);
      t.not(refused.code, 0, 'docker search without login fails');
      t.notMatch(refused.stdout, /alpha/, 'and lists nothing');
      t.match(
        refused.output,
        /401|unauthorized|authentication required/i,
        `docker reports the refusal: ${refused.output.trim().split('\n').pop()}`,
      );

      const bob = await dk.newConfig('bob');
      const login = await dk.run(['login', '--username', 'bob', '--password-stdin', host], {
        config: bob,
        input: 'pw-bob',
      });
      t.equal(login.code, 0, `docker login as bob${login.code ? `: ${login.output}` : ''}`);
      const bobAlpha = await search(host, 'alpha', bob);
      t.equal(bobAlpha.code, 0, `bob's search succeeds${bobAlpha.code ? `: ${bobAlpha.output}` : ''}`);
      t.same(names(bobAlpha.stdout).rows, ['team/alpha'], 'bob finds team/alpha, not secret/alpha');
      const bobBeta = await search(host, 'beta', bob);
      t.equal(bobBeta.code, 0);
      t.same(names(bobBeta.stdout).rows, [], 'bob may not pull tools/beta: not listed');

      const alice = await dk.newConfig('alice');
      const aliceLogin = await dk.run(['login', '--username', 'alice', '--password-stdin', host], {
        config: alice,
        input: 'pw-alice',
      });
      t.equal(aliceLogin.code, 0, `docker login as alice${aliceLogin.code ? `: ${aliceLogin.output}` : ''}`);
      t.same(
        names((await search(host, 'alpha', alice)).stdout).rows,
        ['secret/alpha', 'team/alpha'],
        'alice finds both alphas',
      );
      t.same(names((await search(host, 'beta', alice)).stdout).rows, ['tools/beta'], 'and tools/beta');

      await dk.ok(['logout', host], { config: bob });
      const afterLogout = await search(host, 'alpha', bob);
      t.not(afterLogout.code, 0, 'after docker logout the search fails again');
    },
  );
}
