/**
 * Mirror prefixes are ordinary repositories to authentication, access rules and search: a user
 * the rules do not allow to pull `hub/*` gets the usual refusal and the remote is never asked;
 * an allowed user pulls through the mirror; `/v1/search` lists cached mirrored repositories
 * only to users who may pull them.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { makeOciImage } from '../helpers/oci-image.js';
import {
  execFileP,
  fetchInsecure,
  freePort,
  hasCommand,
  removeDir,
  skopeo,
  startPortcullis,
  tempDir,
} from '../helpers/processes.js';
import { startRemote, writeCredentials } from '../helpers/mirror-remote.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

if (!hasCommand('skopeo') || !hasCommand('htpasswd')) {
  t.plan(0, 'skopeo and htpasswd are needed');
} else {
  const work = await tempDir('portcullis-mirror-access-');
  const remote = await startRemote();
  t.teardown(async () => {
    await remote.stop();
    await removeDir(work);
  });
  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'alice-pw-1']);
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, 'bob', 'bob-pw-2']);
  const access = join(work, 'access.yaml');
  await writeFile(
    access,
    [
      'rules:',
      '  - repository: "hub/*"',
      '    users: [alice]',
      '    actions: [pull]',
      '  - repository: "team/*"',
      '    users: [alice, bob]',
      '    actions: [pull, push]',
    ].join('\n'),
  );
  const host = `127.0.0.1:${await freePort()}`;
  const mirror = await startPortcullis(
    [
      '--listen',
      host,
      '--storage',
      join(work, 'storage'),
      '--mirror',
      `hub=${remote.url}`,
      '--mirror-credentials',
      await writeCredentials(work, 'hub'),
      '--htpasswd',
      htpasswd,
      '--access',
      access,
      '--access-log',
      'off',
    ],
    { probe: `http://${host}/_ping` },
  );
  t.teardown(() => mirror.stop());
  const img = await makeOciImage(join(work, 'img'), { tag: 'v1', layerSizes: [1 << 20] });
  await remote.push(img.dir, 'v1', 'library/app:v1');

  const pullAs = (creds: string) =>
    skopeo([
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--src-creds',
      creds,
      `docker://${host}/hub/library/app:v1`,
      `oci:${join(work, `out-${creds.split(':')[0]}`)}:v1`,
    ]).then(
      () => 'ok',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );

  await t.test('access rules decide who may pull through a mirror prefix', async (t) => {
    const before = (await remote.requests()).length; // the push that set the remote up
    const denied = await pullAs('bob:bob-pw-2');
    t.match(denied, /denied|unauthorized|403|401/i, 'bob, not allowed on hub/*, is refused');
    t.same((await remote.requests()).slice(before), [], 'the remote was never asked');
    t.equal(await pullAs('alice:alice-pw-1'), 'ok', 'alice, allowed on hub/*, pulls through the mirror');
    t.ok((await remote.blobGets()) > 0, 'and that pull reached the remote');
    const anon = await fetchInsecure(`http://${host}/v2/hub/library/app/manifests/v1`);
    t.equal(anon.status, 401, 'anonymous: 401');
  });

  await t.test('search lists a cached mirrored repository to those who may pull it', async (t) => {
    const search = async (auth: string) =>
      JSON.parse(
        (await fetchInsecure(`http://${host}/v1/search?q=app`, { headers: { authorization: auth } })).body,
      ).results.map((r: { name: string }) => r.name);
    t.same(await search(basic('alice', 'alice-pw-1')), ['hub/library/app'], 'alice finds hub/library/app');
    t.same(await search(basic('bob', 'bob-pw-2')), [], 'bob does not see it');
  });
}
