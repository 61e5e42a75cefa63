/**
 * What the `portcullis` command's start-up costs in memory that an idle server keeps, started
 * the way an operator starts it (the launcher's `#!` line). Two things the launcher arranges:
 * node uses the compiled code it ships for its own modules although the line gives V8 a flag
 * (otherwise each of them is compiled again from source: ~0.2-0.5 MiB more resident at idle and
 * a slower start), and glibc keeps one malloc arena instead of one per thread that allocates
 * (each holds its own free memory: ~0.5-0.9 MiB at idle). bench/idle.js measures both.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { launcherCommand } from '../helpers/launcher.js';
import {
  PORTCULLIS_BIN,
  fetchInsecure,
  freePort,
  removeDir,
  startProcess,
  tempDir,
  waitForHttp,
  type Running,
} from '../helpers/processes.js';

const dir = await tempDir('portcullis-launcher-idle-');
t.teardown(() => removeDir(dir));
const users = join(dir, 'users');
// bcrypt, as `htpasswd -B` writes: its verify runs on a libuv pool thread, which allocates too.
writeFileSync(users, `alice:${await bcrypt.hash('secret', 5)}\n`);
const auth = `Basic ${Buffer.from('alice:secret').toString('base64')}`;

/** Start a server with `cmd args`, answer one authenticated GET /v2/, run `look` on it, stop it. */
async function withServer<T>(
  name: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  look: (srv: Running) => T,
): Promise<T> {
  const port = await freePort();
  // Through `env -u NODE_OPTIONS`: the test runner puts a preload of its own there for every
  // child, which would load some of node's modules before the launcher's first line runs.
  const srv = startProcess(
    '/usr/bin/env',
    [
      '-u',
      'NODE_OPTIONS',
      cmd,
      ...args,
      '--listen',
      `127.0.0.1:${port}`,
      '--htpasswd',
      users,
      '--storage',
      join(dir, name),
    ],
    { env: { PORTCULLIS_LOG_LEVEL: 'warn', PORTCULLIS_ACCESS_LOG: 'off', ...env } },
  );
  try {
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, 20_000, srv);
    const r = await fetchInsecure(`http://127.0.0.1:${port}/v2/`, { headers: { authorization: auth } });
    if (r.status !== 200) throw new Error(`GET /v2/ answered ${r.status}:\n${srv.output()}`);
    return look(srv);
  } finally {
    await srv.stop();
  }
}

/**
 * glibc's malloc arenas besides the main one, from /proc/PID/maps: each is a 64 MiB-aligned
 * reservation (HEAP_MAX_SIZE on 64-bit), its used part read-write and the rest inaccessible.
 */
function extraMallocArenas(pid: number): number {
  const ARENA = 64 * 1024 * 1024;
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [range, perms] = line.split(/\s+/);
      const [start, end] = range!.split('-').map((h) => BigInt(`0x${h}`));
      return { start: start!, end: end!, perms: perms! };
    });
  let arenas = 0;
  for (const [i, m] of maps.entries()) {
    if (m.perms !== 'rw-p' || m.start % BigInt(ARENA) !== 0n) continue;
    const next = maps[i + 1];
    const end = next && next.start === m.end && next.perms === '---p' ? next.end : m.end;
    if (end - m.start === BigInt(ARENA)) arenas++;
  }
  return arenas;
}

t.test("node's compiled code for its own modules is used although the launcher gives V8 a flag", async (t) => {
  const launcher = launcherCommand();
  t.match(launcher.args[0] ?? '', /--max-semi-space-size=/, 'the launcher sizes the young generation');
  // NODE_DEBUG_NATIVE=CODE_CACHE makes node say, for each of its modules, whether the code it
  // ships was accepted; the server's http, TLS, crypto and cluster modules load after the launcher's first line.
  const env = { NODE_DEBUG_NATIVE: 'CODE_CACHE' };
  const log = await withServer('code-cache', launcher.cmd, launcher.args, env, (s) => s.output());
  for (const mod of ['_http_server', '_tls_wrap', 'internal/crypto/hash', 'cluster']) {
    const verdict = new RegExp(`Code cache of ${mod} \\(\\w+\\) is (accepted|rejected)`).exec(log)?.[1];
    t.equal(verdict, 'accepted', `node's compiled ${mod} is used`);
  }
});

t.test('the launcher keeps one malloc arena for all threads', async (t) => {
  const launcher = launcherCommand();
  const launched = await withServer('arena-launcher', launcher.cmd, launcher.args, {}, (s) => extraMallocArenas(s.pid));
  // The same server under glibc's default: every thread that allocates (V8's helpers, the pool
  // thread that verified the bcrypt password) gets an arena of its own. Also shows the count works.
  const plain = await withServer('arena-plain', process.execPath, [PORTCULLIS_BIN], { MALLOC_ARENA_MAX: '' }, (s) =>
    extraMallocArenas(s.pid),
  );
  t.ok(plain >= 1, `started without the launcher, the server has ${plain} malloc arenas besides the main one`);
  t.equal(launched, 0, 'started as the portcullis command, it has none besides the main one');
});
