/**
 * Two portcullis instances behind a real haproxy balancing every request round robin, with
 * --htpasswd, --anonymous-read (the token scheme) and one shared --token-key over one storage
 * directory: what a user scaling out sets up. A token issued by one instance must be accepted
 * by the other, or docker and skopeo fail on their first blob check. Both instances start at
 * once on a key file that does not exist yet, so they race to create it. Then a restart:
 * tokens issued before it are still accepted after it.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFile, stat } from 'node:fs/promises';
import { makeOciImage } from '../helpers/oci-image.js';
import {
  startPortcullis,
  startProcess,
  freePort,
  fetchInsecure,
  execFileP,
  missingCommand,
  skopeo,
  waitForHttp,
  type Running,
} from '../helpers/processes.js';
import { loadImage, pushRmiPull, inspectImage, diffIds } from '../helpers/dockerd.js';
import { dockerdForFile } from '../helpers/dockerd-file.js';

const docker = await dockerdForFile(t, {
  missing: missingCommand('haproxy') ?? missingCommand('htpasswd', 'apache2-utils'),
});

/** Requests an instance served, from its own stub_status (read directly, not through haproxy). */
async function served(port: number): Promise<number> {
  const r = await fetchInsecure(`http://127.0.0.1:${port}/nginx_status`);
  return Number(/\n (\d+) (\d+) (\d+) \n/.exec(r.body)![3]);
}

async function tokenFrom(base: string, scope: string): Promise<string> {
  const r = await fetchInsecure(`${base}/token?service=x&scope=${encodeURIComponent(scope)}`, {
    headers: { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` },
  });
  if (r.status !== 200) throw new Error(`token: ${r.status} ${r.body}`);
  return JSON.parse(r.body).token;
}

if (docker) {
  const { dk, work } = docker;
  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', htpasswd, 'alice', 'secret']);
  const keyFile = join(work, 'token.key');
  const storage = join(work, 'storage');
  const ports = [await freePort(), await freePort()];
  const args = (p: number) => [
    '--listen',
    `127.0.0.1:${p}`,
    '--storage',
    storage,
    '--htpasswd',
    htpasswd,
    '--anonymous-read',
    '--token-key',
    keyFile,
  ];
  const instances: Running[] = await Promise.all(
    ports.map((p) => startPortcullis(args(p), { probe: `http://127.0.0.1:${p}/_ping` })),
  );
  t.teardown(() => Promise.all(instances.map((i) => i.stop())));

  const lbPort = await freePort();
  const cfg = join(work, 'haproxy.cfg');
  await writeFile(
    cfg,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 5m',
      '  timeout server 5m',
      'frontend registry',
      `  bind 127.0.0.1:${lbPort}`,
      '  default_backend portcullis',
      'backend portcullis',
      '  balance roundrobin',
      ...ports.map((p, i) => `  server p${i} 127.0.0.1:${p}`),
      '',
    ].join('\n'),
  );
  const lb = startProcess('haproxy', ['-db', '-f', cfg]);
  t.teardown(() => lb.stop());
  const host = `127.0.0.1:${lbPort}`;
  const origin = `http://${host}`;
  await waitForHttp(`${origin}/_ping`, 20_000, lb);

  t.test('the key file both instances raced to create', async (t) => {
    const st = await stat(keyFile);
    t.equal(st.mode & 0o777, 0o600, 'created with mode 0600');
    const token = await tokenFrom(`http://127.0.0.1:${ports[0]}`, 'repository:lb/app:pull');
    const other = await fetchInsecure(`http://127.0.0.1:${ports[1]}/v2/lb/app/tags/list`, {
      headers: { authorization: `Bearer ${token}` },
    });
    t.not(other.status, 401, `a token from instance 0 is accepted by instance 1 (${other.status})`);
  });

  t.test('docker login, push, rmi, pull and an anonymous pull through round-robin haproxy', async (t) => {
    const before = await Promise.all(ports.map(served));
    const alice = await dk.newConfig('alice');
    const login = await dk.run(['login', '--username', 'alice', '--password-stdin', host], {
      config: alice,
      input: 'secret',
    });
    t.equal(login.code, 0, `docker login succeeds${login.code ? `: ${login.output}` : ''}`);
    const image = await makeOciImage(join(work, 'src'), { layerSizes: [8 << 20, 1 << 20, 1024] });
    const ref = `${host}/lb/app:v1`;
    await loadImage(dk, image, ref, work);
    const digest = await pushRmiPull(t, dk, { ref, tag: 'v1', image, work, config: alice, origin, repo: 'lb/app' });

    await dk.ok(['rmi', ref]);
    const nobody = await dk.newConfig('nobody');
    const pull = await dk.run(['pull', ref], { config: nobody });
    t.equal(pull.code, 0, `anonymous docker pull works${pull.code ? `: ${pull.output}` : ''}`);
    t.match(pull.output, `Digest: ${digest}`, 'anonymous pull gets the pushed digest');
    t.same((await inspectImage(dk, ref))?.RootFS.Layers, await diffIds(image), 'anonymous pull: same layers');

    const after = await Promise.all(ports.map(served));
    for (const i of [0, 1])
      t.ok(after[i]! - before[i]! >= 10, `instance ${i} served requests (${after[i]! - before[i]!}, from haproxy)`);
  });

  t.test('skopeo copy --dest-creds through haproxy', async (t) => {
    const image = await makeOciImage(join(work, 'sk'), { layerSizes: [4 << 20, 2048] });
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:secret',
      `oci:${image.dir}:latest`,
      `docker://${host}/lb/skopeo:v1`,
    ]);
    const { stdout } = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/lb/skopeo:v1`]);
    t.same(
      JSON.parse(stdout).Layers,
      image.layers.map((l) => l.digest),
      'skopeo pushed every layer; an anonymous inspect sees them',
    );
  });

  t.test('a restart keeps issued tokens valid', async (t) => {
    const token = await tokenFrom(origin, 'repository:lb/app:pull');
    await instances[0]!.stop();
    instances[0] = await startPortcullis(args(ports[0]!), { probe: `http://127.0.0.1:${ports[0]}/_ping` });
    const r = await fetchInsecure(`http://127.0.0.1:${ports[0]}/v2/lb/app/manifests/v1`, {
      method: 'HEAD',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
      },
    });
    t.equal(r.status, 200, 'a token issued before the restart is accepted after it');
    const forged = await fetchInsecure(`http://127.0.0.1:${ports[0]}/v2/lb/app/manifests/v1`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` },
    });
    t.equal(forged.status, 401, 'a tampered token is still refused');
  });
}
