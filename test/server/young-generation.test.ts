/**
 * The memory a server keeps after a burst of small requests, started the way an operator starts
 * it: the `portcullis` command runs dist/bin/portcullis.js through its `#!` line, whose node
 * flags cap V8's young generation. Under Node's own default (16 MiB semi-spaces) a burst of
 * concurrent requests grows the young generation to 32 MiB and it stays resident; the launcher's
 * server must keep it at 8 MiB (two 4 MiB semi-spaces), as its own /metrics reports.
 *
 * The young generation's size is what the cap decides, and it is exact. RSS growth also counts
 * objects promoted to the old space and malloc's share, which vary with how many requests
 * overlap on a loaded machine (CI once saw 28.9 MiB capped against 31.2 uncapped), so RSS only
 * has an upper bound here.
 */
import t from 'tap';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { launcherCommand } from '../helpers/launcher.js';
import { join } from 'node:path';
import {
  PORTCULLIS_BIN,
  freePort,
  removeDir,
  startProcess,
  tempDir,
  waitForHttp,
  type Running,
} from '../helpers/processes.js';

const CONNECTIONS = 64;
const REQUESTS_PER_CONNECTION = 600;

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** GET /v2/ with basic auth over CONNECTIONS keep-alive connections; every answer must be 200. */
async function burst(port: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const auth = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port, path: '/v2/', agent, headers: { authorization: auth } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET /v2/: ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
    });
  try {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        for (let i = 0; i < REQUESTS_PER_CONNECTION; i++) await one();
      }),
    );
  } finally {
    agent.destroy();
  }
}

const dir = await tempDir('portcullis-young-gen-');
t.teardown(() => removeDir(dir));
const users = join(dir, 'users');
writeFileSync(users, 'alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n'); // password "secret"

/** The young generation's size as the server's /metrics reports it (prom-client's heap spaces). */
async function newSpaceMiB(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const m = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(text);
  if (!m) throw new Error(`/metrics (${res.status}) has no new space size`);
  return Number(m[1]) / 1024 / 1024;
}

/** Start a server with `cmd args`, burst it, stop it: RSS growth and young generation in MiB. */
async function afterBurst(name: string, cmd: string, args: string[]): Promise<{ growth: number; newSpace: number }> {
  const port = await freePort();
  const srv: Running = startProcess(
    cmd,
    [...args, '--listen', `127.0.0.1:${port}`, '--htpasswd', users, '--storage', join(dir, name)],
    {
      env: { PORTCULLIS_LOG_LEVEL: 'warn', PORTCULLIS_ACCESS_LOG: 'off' },
    },
  );
  try {
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, 20_000, srv);
    await new Promise((r) => setTimeout(r, 500));
    const before = rssMiB(srv.pid);
    await burst(port);
    const after = rssMiB(srv.pid);
    const newSpace = await newSpaceMiB(port);
    t.comment(
      `${name}: RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB over ${CONNECTIONS * REQUESTS_PER_CONNECTION} requests, young generation ${newSpace} MiB`,
    );
    return { growth: after - before, newSpace };
  } finally {
    await srv.stop();
  }
}

t.test('the launcher keeps the young generation small after a burst of small requests', async (t) => {
  const launcher = launcherCommand();
  const capped = await afterBurst('launcher', launcher.cmd, launcher.args);
  const nodeDefault = await afterBurst('node-default', process.execPath, [PORTCULLIS_BIN]);
  t.ok(
    capped.newSpace <= 8,
    `started as the portcullis command, the young generation is ${capped.newSpace} MiB (at most 8)`,
  );
  // Shows the burst is big enough to grow an uncapped young generation (to 32 MiB here).
  t.ok(nodeDefault.newSpace >= 16, `under Node's default the same burst grew it to ${nodeDefault.newSpace} MiB`);
  // Capped, the same burst grew RSS by 13-22 MiB here (28.9 once on a loaded CI machine); uncapped 26-41.
  t.ok(capped.growth < 32, `started as the portcullis command, RSS grew ${capped.growth.toFixed(1)} MiB (under 32)`);
});
