/**
 * The htpasswd file changes while a push is running: the push is not disturbed,
 * a user added with `portcullis htpasswd add` can log in at once, a deleted one cannot,
 * all without a restart.
 */
import t from 'tap';
import { join } from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { makeOciImage, fileDigest } from '../helpers/oci-image.js';
import {
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
  PORTCULLIS_BIN,
} from '../helpers/processes.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

function htpasswd(args: string[], password?: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [PORTCULLIS_BIN, 'htpasswd', ...args], { stdio: ['pipe', 'ignore', 'inherit'] });
    p.stdin.end(password ? `${password}\n` : '');
    p.on('exit', (code) => resolve(code ?? 1));
  });
}

/** True when some upload session in the embedded storage has received at least `bytes`. */
async function uploadHolds(storage: string, bytes: number): Promise<boolean> {
  const dir = join(storage, 'uploads');
  for (const id of await readdir(dir).catch(() => [] as string[])) {
    const size = await stat(join(dir, id, 'data')).then(
      (s) => s.size,
      () => 0,
    );
    if (size >= bytes) return true;
  }
  return false;
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

t.test('users added and removed during a push take effect without a restart; the push completes', async (t) => {
  const work = await tempDir();
  t.teardown(() => removeDir(work));
  const file = join(work, 'users.htpasswd');
  t.equal(await htpasswd(['add', file, 'alice', '--cost', '5'], 'alice-pw'), 0);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startPortcullis(
    ['--storage', join(work, 'data'), '--listen', `127.0.0.1:${port}`, '--htpasswd', file],
    { probe: `${base}/_ping` },
  );
  t.teardown(() => gw.stop());

  const image = await makeOciImage(join(work, 'img'), { layerSizes: [96 << 20, 1 << 20] });
  // skopeo is stopped (SIGSTOP) once the big layer's upload holds some of its bytes, so the
  // reload certainly happens while the push has its upload open; it goes on after SIGCONT.
  const push = spawn(
    'skopeo',
    [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:alice-pw',
      `oci:${image.dir}:latest`,
      `docker://127.0.0.1:${port}/reload/app:v1`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const pushed = new Promise<number | null>((resolve) => push.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    push.kill('SIGCONT');
    push.kill('SIGKILL');
  });
  t.ok(await until(() => uploadHolds(join(work, 'data'), 1 << 20), 60_000), 'the push is uploading the layer');
  push.kill('SIGSTOP');
  t.equal(push.exitCode, null, 'skopeo is stopped mid-push, not finished');
  t.equal(await htpasswd(['add', file, 'bob', '--cost', '5'], 'bob-pw'), 0, 'bob added while the push is mid-way');
  t.ok(
    await until(
      async () =>
        (await fetchInsecure(`${base}/v2/`, { headers: { authorization: basic('bob', 'bob-pw') } })).status === 200,
    ),
    'bob can log in without a restart',
  );
  push.kill('SIGCONT');
  t.equal(await pushed, 0, 'the push that was running completed');

  const out = join(work, 'out');
  await skopeo([
    'copy',
    '--src-tls-verify=false',
    '--src-creds',
    'bob:bob-pw',
    `docker://127.0.0.1:${port}/reload/app:v1`,
    `oci:${out}:v1`,
  ]);
  for (const l of image.layers)
    t.equal(await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))), l.digest, 'pushed layer intact');

  t.equal(await htpasswd(['delete', file, 'alice']), 0);
  t.ok(
    await until(
      async () =>
        (await fetchInsecure(`${base}/v2/`, { headers: { authorization: basic('alice', 'alice-pw') } })).status === 401,
    ),
    'a deleted user is refused, cached credentials included',
  );
});
