/**
 * `podman search HOST/term` against portcullis with the embedded core: podman needs
 * no daemon; it asks the registry's /v1/search like docker does.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeOciImage } from '../helpers/oci-image.js';
import { startPortcullis, freePort, tempDir, removeDir, skopeo, execFileP } from '../helpers/processes.js';

t.test('podman search lists matching repositories', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const gw = await startPortcullis(['--listen', host, '--storage', join(work, 'data')], {
    probe: `http://${host}/_ping`,
  });
  t.teardown(() => gw.stop());
  const image = await makeOciImage(join(work, 'img'), { layerSizes: [1024] });
  for (const ref of ['team/alpha:v1', 'team/gamma:v2', 'tools/beta:build-42']) {
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:latest`, `docker://${host}/${ref}`]);
  }
  const env = { ...process.env, HOME: work, XDG_RUNTIME_DIR: work, XDG_CONFIG_HOME: join(work, 'config') };
  const { stdout } = await execFileP(
    'podman',
    ['search', '--tls-verify=false', '--format', '{{.Name}}', `${host}/team`],
    { env, timeout: 60_000 },
  );
  const names = stdout
    .split('\n')
    .filter(Boolean)
    .map((n) => n.replace(`${host}/`, ''));
  t.same(names.sort(), ['team/alpha', 'team/gamma'], 'podman finds the repositories matching "team"');
  const byPart = await execFileP('podman', ['search', '--tls-verify=false', '--format', '{{.Name}}', `${host}/eta`], {
    env,
    timeout: 60_000,
  });
  t.same(
    byPart.stdout
      .split('\n')
      .filter(Boolean)
      .map((n) => n.replace(`${host}/`, '')),
    ['tools/beta'],
    'and by a part inside a name',
  );
});
