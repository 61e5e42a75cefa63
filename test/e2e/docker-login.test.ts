/**
 * docker login, push and pull with credentials, through portcullis with an htpasswd file made
 * by Debian's apache2-utils `htpasswd -B`. First the Basic scheme (everything needs a login),
 * then --anonymous-read, where portcullis's token service lets the real docker client pull
 * without credentials while pushes and wrong passwords are still refused.
 * Each docker "user" has its own DOCKER_CONFIG, so saved credentials never leak.
 */
import t from 'tap';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { makeOciImage } from '../helpers/oci-image.js';
import { fetchInsecure, execFileP, missingCommand } from '../helpers/processes.js';
import { loadImage, pushRmiPull, inspectImage, diffIds, type Dockerd } from '../helpers/dockerd.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';
import { portcullisFor } from '../helpers/scoped.js';

const docker = await dockerdForFile(t, { missing: missingCommand('htpasswd', 'apache2-utils') });

async function savedAuths(config: string): Promise<Record<string, unknown>> {
  const text = await readFile(join(config, 'config.json'), 'utf8').catch(() => '{}');
  return JSON.parse(text).auths ?? {};
}

async function login(dk: Dockerd, config: string, host: string, user: string, password: string) {
  return dk.run(['login', '--username', user, '--password-stdin', host], { config, input: password });
}

if (docker) {
  const { dk, work } = docker;
  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', htpasswd, 'alice', 'secret']);
  const image = await makeOciImage(join(work, 'src'), { layerSizes: [4 << 20, 1024] });

  t.test('basic auth: docker login wrong and right, push and pull after login, refused without', async (t) => {
    const { host, origin } = await portcullisFor(t, ['--storage', join(work, 'basic'), '--htpasswd', htpasswd], {
      tls: true,
    });
    const alice = await dk.newConfig('alice');

    const wrong = await login(dk, alice, host, 'alice', 'not-the-password');
    t.not(wrong.code, 0, 'docker login with a wrong password fails');
    t.match(wrong.output, /unauthorized/i, 'and says unauthorized');
    t.notOk(host in (await savedAuths(alice)), 'nothing saved for the registry');

    const unknown = await login(dk, alice, host, 'mallory', 'secret');
    t.not(unknown.code, 0, 'docker login as an unknown user fails');
    t.match(unknown.output, /unauthorized/i, 'and says unauthorized');

    const right = await login(dk, alice, host, 'alice', 'secret');
    t.equal(right.code, 0, `docker login with the right password succeeds${right.code ? `: ${right.output}` : ''}`);
    t.match(right.output, /Login Succeeded/);
    t.ok(host in (await savedAuths(alice)), 'credentials saved in this DOCKER_CONFIG only');

    const ref = `${host}/e2e/private:v1`;
    await loadImage(dk, image, ref, work);
    await pushRmiPull(t, dk, { ref, tag: 'v1', image, work, config: alice, origin, repo: 'e2e/private' });

    // Someone who never logged in: push and pull are both refused, nothing changes.
    const nobody = await dk.newConfig('nobody');
    const other = `${host}/e2e/private:v2`;
    await dk.ok(['tag', ref, other]);
    const push = await dk.run(['push', other], { config: nobody });
    t.not(push.code, 0, 'push without login is refused');
    t.match(push.output, /no basic auth credentials/, 'docker says: no basic auth credentials');
    await dk.ok(['rmi', ref]);
    const logFrom = dk.log().length;
    const pull = await dk.run(['pull', ref], { config: nobody });
    t.not(pull.code, 0, 'pull without login is refused');
    t.equal(await inspectImage(dk, ref), null, 'nothing was pulled');
    // 127.0.0.1 is an insecure registry to docker: after the HTTPS endpoint refuses the pull it
    // also tries plain HTTP on the same port and prints that last error (EOF from a TLS port).
    // The HTTPS answer, the one portcullis gave, is in the daemon's log.
    t.match(
      pull.output,
      /no basic auth credentials|unauthorized|Get "http:\/\/127\.0\.0\.1:\d+\/v2\/": EOF/,
      'docker reports the refusal (or its plain-HTTP fallback)',
    );
    t.match(
      dk.log().slice(logFrom),
      /no basic auth credentials/,
      'the HTTPS endpoint answered: no basic auth credentials',
    );
    const tags = await fetchInsecure(`${origin}/v2/e2e/private/tags/list`, {
      headers: { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` },
    });
    t.same(JSON.parse(tags.body).tags, ['v1'], 'the refused push left no v2 tag');

    // After logout the saved credentials are gone and pushes are refused again.
    const logout = await dk.ok(['logout', host], { config: alice });
    t.match(logout.output, /Removing login credentials/);
    t.notOk(host in (await savedAuths(alice)), 'logout removed the credentials');
    const afterLogout = await dk.run(['push', other], { config: alice });
    t.not(afterLogout.code, 0, 'push after logout is refused');
    t.match(afterLogout.output, /no basic auth credentials/, 'docker says: no basic auth credentials');
  });

  t.test(
    '--anonymous-read (token scheme): anonymous pull works, anonymous push refused, wrong password still fails',
    async (t) => {
      const { host, origin } = await portcullisFor(
        t,
        ['--storage', join(work, 'anon'), '--htpasswd', htpasswd, '--anonymous-read'],
        { tls: true },
      );

      const challenge = await fetchInsecure(`${origin}/v2/`);
      t.equal(challenge.status, 401, '/v2/ still challenges anonymous clients');
      t.match(
        challenge.headers['www-authenticate'],
        /^Bearer realm="https:\/\/127\.0\.0\.1:\d+\/token"/,
        'with a Bearer challenge pointing at the token service',
      );

      const alice = await dk.newConfig('alice');
      const wrong = await login(dk, alice, host, 'alice', 'not-the-password');
      t.not(wrong.code, 0, 'docker login with a wrong password fails under the token scheme');
      t.match(wrong.output, /unauthorized/i, 'and says unauthorized');
      t.notOk(host in (await savedAuths(alice)), 'nothing saved for the registry');

      const right = await login(dk, alice, host, 'alice', 'secret');
      t.equal(right.code, 0, `docker login with the right password succeeds${right.code ? `: ${right.output}` : ''}`);
      t.match(right.output, /Login Succeeded/);

      const ref = `${host}/e2e/public:v1`;
      await loadImage(dk, image, ref, work);
      const digest = await pushRmiPull(t, dk, {
        ref,
        tag: 'v1',
        image,
        work,
        config: alice,
        origin,
        repo: 'e2e/public',
      });

      // Log out and pull anonymously.
      const logout = await dk.ok(['logout', host], { config: alice });
      t.match(logout.output, /Removing login credentials/);
      t.notOk(host in (await savedAuths(alice)), 'logout removed the credentials');
      await dk.ok(['rmi', ref]);
      const pull = await dk.run(['pull', ref], { config: alice });
      t.equal(pull.code, 0, `anonymous docker pull works${pull.code ? `: ${pull.output}` : ''}`);
      t.match(pull.output, `Digest: ${digest}`, 'anonymous pull gets the pushed digest');
      t.same((await inspectImage(dk, ref))?.RootFS.Layers, await diffIds(image), 'anonymous pull: same layers');

      // Anonymous push: refused, to a new repository and to the existing one.
      for (const target of [`${host}/e2e/anon:v1`, `${host}/e2e/public:v2`]) {
        await dk.ok(['tag', ref, target]);
        const push = await dk.run(['push', target], { config: alice });
        t.not(push.code, 0, `anonymous push to ${target.slice(host.length + 1)} is refused`);
        t.match(push.output, /denied: requested access to the resource is denied/, 'docker says access is denied');
        // A 401 docker cannot classify makes it retry every layer 5 times (~50 s) before failing.
        t.ok(push.ms < 15_000, `refused at once, without docker's upload retries (${push.ms} ms)`);
      }
      const catalog = await fetchInsecure(`${origin}/v2/_catalog`, {
        headers: { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` },
      });
      t.same(JSON.parse(catalog.body).repositories, ['e2e/public'], 'the refused pushes created no repository');

      const again = await login(dk, alice, host, 'alice', 'wrong-again');
      t.not(again.code, 0, 'docker login with a wrong password still fails after anonymous use');
      t.match(again.output, /unauthorized/i);
    },
  );
}
