/**
 * The memory a server keeps after a burst of small requests, started the way an operator starts
 * it: the `portcullis` command runs dist/bin/portcullis.js through its `#!` line, whose node
 * flags cap V8's young generation. Under Node's own default (16 MiB semi-spaces) a burst of
 * concurrent requests grows the young generation to 32 MiB and it stays resident; the launcher's
 * server must keep clearly less, and clearly less than the same server started without the flags.
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

/** Start a server with `cmd args`, measure RSS before and after the burst, stop it: growth in MiB. */
async function growthAfterBurst(name: string, cmd: string, args: string[]): Promise<number> {
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
    t.comment(
      `${name}: RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB over ${CONNECTIONS * REQUESTS_PER_CONNECTION} requests`,
    );
    return after - before;
  } finally {
    await srv.stop();
  }
}

t.test('the launcher keeps the young generation small after a burst of small requests', async (t) => {
  const launcher = launcherCommand();
  const capped = await growthAfterBurst('launcher', launcher.cmd, launcher.args);
  const nodeDefault = await growthAfterBurst('node-default', process.execPath, [PORTCULLIS_BIN]);
  t.ok(capped < 30, `started as the portcullis command, RSS grew ${capped.toFixed(1)} MiB (under 30)`);
  // Under Node's default the same burst grew RSS by 26-41 MiB here, with the cap by 13-21.
  t.ok(
    capped < nodeDefault * 0.75,
    `${capped.toFixed(1)} MiB is well under the ${nodeDefault.toFixed(1)} MiB it grows under Node's default young generation`,
  );
});
