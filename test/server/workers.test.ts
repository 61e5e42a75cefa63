/**
 * --workers 2 as an operator runs it: one primary owning the TLS listener, two workers
 * serving, the embedded core on one storage directory. skopeo pushes and pulls through the
 * group; /nginx_status sums both workers (checked against the requests sent); a worker
 * SIGKILLed mid-download fails that download cleanly, the next succeeds and a replacement
 * worker appears; SIGHUP under load fails nothing and the new htpasswd reaches every worker;
 * wrong passwords spread over the workers are counted for the group; SIGUSR1 reopens the
 * access log with every line in one of the two files; SIGTERM drains and ends the group.
 */
import t from 'tap';
import https from 'node:https';
import { join } from 'node:path';
import { readFile, readdir, readlink, rename } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { makeOciImage, fileDigest } from '../helpers/oci-image.js';
import {
  startPortcullis,
  freePort,
  tempDir,
  removeDir,
  skopeo,
  fetchInsecure,
  execFileP,
  waitForHttp,
} from '../helpers/processes.js';

interface Snapshot {
  active: number;
  reading: number;
  writing: number;
  waiting: number;
  accepted: number;
  handled: number;
  requests: number;
}
interface GroupStatus {
  group: { connections: Snapshot; workers: { id: number; pid: number; connections: Snapshot }[] };
}

/** The pid among `pids` that has the server end of the connection from local port `clientPort` open. */
async function workerHoldingConnection(pids: number[], clientPort: number): Promise<number | undefined> {
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const table = await readFile('/proc/net/tcp', 'utf8');
  // Columns: sl, local address, remote address, state, queues, timers, retransmits, uid, timeout, inode.
  const row = table
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[1] === `0100007F:${hexPort(port)}` && c[2] === `0100007F:${hexPort(clientPort)}`);
  if (!row) return undefined;
  const socket = `socket:[${row[9]}]`;
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === socket) return pid;
  }
  return undefined;
}

const work = await tempDir();
t.teardown(() => removeDir(work));
const htpasswd = join(work, 'users');
await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, 'alice', 'secret']);
const accessLog = join(work, 'access.log');
const port = await freePort();
const host = `127.0.0.1:${port}`;
const base = `https://${host}`;
const alice = { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` };
const gw = await startPortcullis(
  [
    '--workers',
    '2',
    '--listen',
    host,
    '--tls-self-signed',
    '--storage',
    join(work, 'storage'),
    '--htpasswd',
    htpasswd,
    '--brute-force-max',
    '4',
    '--access-log',
    accessLog,
  ],
  {},
);
t.teardown(() => gw.stop());
// Three processes starting on a busy machine may take longer than the helper's usual wait.
await waitForHttp(`${base}/_ping`, 90_000, gw);

async function status(): Promise<GroupStatus> {
  return JSON.parse((await fetchInsecure(`${base}/_status`)).body) as GroupStatus;
}

function parseStub(body: string): Snapshot {
  const [, active] = /^Active connections: (\d+) \n/.exec(body)!;
  const [, accepted, handled, requests] = /\nserver accepts handled requests\n (\d+) (\d+) (\d+) \n/.exec(body)!;
  const [, reading, writing, waiting] = /\nReading: (\d+) Writing: (\d+) Waiting: (\d+) \n$/.exec(body)!;
  return {
    active: +active!,
    accepted: +accepted!,
    handled: +handled!,
    requests: +requests!,
    reading: +reading!,
    writing: +writing!,
    waiting: +waiting!,
  };
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The listener answers as soon as the first worker listens; the second may still be starting.
await until('both workers listening', async () => (await status()).group.workers.length === 2);
const image = await makeOciImage(join(work, 'img'), { layerSizes: [48 << 20, 1 << 20] });

t.test('skopeo push and pull through two workers over TLS; both served', async (t) => {
  const before = await status();
  t.equal(before.group.workers.length, 2, '/_status lists two workers');
  await skopeo([
    'copy',
    '--dest-tls-verify=false',
    '--dest-creds',
    'alice:secret',
    `oci:${image.dir}:latest`,
    `docker://${host}/w/app:v1`,
  ]);
  const out = join(work, 'pulled');
  await skopeo([
    'copy',
    '--src-tls-verify=false',
    '--src-creds',
    'alice:secret',
    `docker://${host}/w/app:v1`,
    `oci:${out}:v1`,
  ]);
  for (const l of image.layers)
    t.equal(await fileDigest(join(out, 'blobs', 'sha256', l.digest.slice(7))), l.digest, 'pulled layer is intact');
  const after = await status();
  for (const w of after.group.workers) {
    const was = before.group.workers.find((x) => x.id === w.id)!;
    t.ok(w.connections.requests > was.connections.requests + 2, `worker ${w.id} served part of the transfer`);
  }
});

t.test('/nginx_status sums the workers: deltas match the requests sent', async (t) => {
  const first = parseStub((await fetchInsecure(`${base}/nginx_status`)).body);
  const N = 20;
  for (let i = 0; i < N; i++) t.equal((await fetchInsecure(`${base}/v2/`, { headers: alice })).status, 200);
  const second = (await fetchInsecure(`${base}/nginx_status`)).body;
  t.match(
    second,
    /^Active connections: \d+ \nserver accepts handled requests\n \d+ \d+ \d+ \nReading: \d+ Writing: \d+ Waiting: \d+ \n$/,
    'nginx format, byte for byte',
  );
  const s = parseStub(second);
  // Each request (and the second status read itself) came on a connection of its own.
  t.equal(s.requests - first.requests, N + 1, `requests grew by the ${N} sent plus this read`);
  t.equal(s.accepted - first.accepted, N + 1, 'accepts too');
  t.equal(s.handled, s.accepted, 'handled = accepts');
  const group = await status();
  const sum = group.group.workers.reduce((a, w) => a + w.connections.requests, 0);
  t.equal(group.group.connections.requests, sum, '/_status group total is the sum of its workers');
  t.ok(
    group.group.workers.every((w) => w.connections.requests > 0),
    'both workers have served requests',
  );
  // Same answer whichever worker reads it: two reads in a row land on different workers.
  const a = (await fetchInsecure(`${base}/metrics`)).body;
  const b = (await fetchInsecure(`${base}/metrics`)).body;
  const total = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('portcullis_connections_accepted_total'))
      .join('\n');
  t.ok(total(a), '/metrics has the accepted-connections counter');
  // Facts every worker states alike are merged, not summed.
  t.match(a, /^portcullis_build_info\{[^}]*\} 1$/m, 'build_info is 1 for the group, not 1 per worker');
  t.match(a, /^portcullis_service_up\{[^}]*\} 1$/m, 'service_up is 1 for a healthy service, not 1 per worker');
  t.equal(
    Number(/ (\d+)$/.exec(total(b))?.[1]) - Number(/ (\d+)$/.exec(total(a))?.[1]),
    1,
    '/metrics counts the whole group: consecutive scrapes differ by exactly the one connection between them',
  );
});

t.test('a worker SIGKILLed mid-download: that download fails, the next succeeds, a replacement starts', async (t) => {
  const big = image.layers[0]!;
  const url = `${base}/v2/w/app/blobs/${big.digest}`;
  // A download that stalls after its first bytes. The worker holding it is found from the
  // kernel's socket table (its connection's inode among that worker's open files): /_status
  // alone cannot tell, since the worker answering a status read counts that read as writing too.
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
    https.get(url, { headers: alice, rejectUnauthorized: false, agent: false }, resolve).on('error', reject),
  );
  t.equal(res.statusCode, 200);
  res.pause();
  const reads = [await status(), await status(), await status()];
  const holder = await workerHoldingConnection(
    reads[0]!.group.workers.map((w) => w.pid),
    res.socket.localPort!,
  );
  const victim = reads[0]!.group.workers.find((w) => w.pid === holder);
  const counts = reads.map((r) => r.group.workers.map((w) => `${w.id}:${w.connections.writing}`).join(','));
  t.ok(victim, `found the worker holding the download (pid ${holder})`);
  if (!victim) return;
  t.ok(
    reads.every((r) => (r.group.workers.find((w) => w.id === victim.id)?.connections.writing ?? 0) >= 1),
    `/_status shows it writing in every read (${counts.join(' | ')})`,
  );
  const outcome = new Promise<string>((resolve) => {
    let got = 0;
    res.on('data', (c: Buffer) => {
      got += c.length;
    });
    res.on('end', () => resolve(res.complete ? `complete ${got}` : `incomplete ${got}`));
    res.on('error', (e) => resolve(`error ${e.message} after ${got}`));
    res.on('close', () => resolve(res.complete ? `complete ${got}` : `closed after ${got}`));
    setTimeout(() => resolve(`still open after 60 s with ${got} bytes`), 60_000).unref();
  });
  process.kill(victim.pid, 'SIGKILL');
  res.resume();
  const seen = await outcome;
  t.notMatch(seen, /^complete/, `the interrupted download does not pass for complete (${seen})`);
  const again = await new Promise<string>((resolve, reject) =>
    https
      .get(url, { headers: alice, rejectUnauthorized: false, agent: false }, (r) => {
        const h = createHash('sha256');
        r.on('data', (c: Buffer) => h.update(c));
        r.on('end', () => resolve(`sha256:${h.digest('hex')}`));
        r.on('error', reject);
      })
      .setTimeout(60_000, function (this: import('node:http').ClientRequest) {
        this.destroy(new Error('no answer within 60 s'));
      })
      .on('error', reject),
  ).catch((e: Error) => `error ${e.message}`);
  t.equal(again, big.digest, 'the next download succeeds and is intact');
  await until('a replacement worker', async () => {
    const s = await status();
    return s.group.workers.length === 2 && !s.group.workers.some((w) => w.pid === victim.pid);
  });
  t.pass('two workers again, the killed one replaced');
  t.equal(gw.proc.exitCode, null, 'the primary is still running');
});

t.test("a dead worker's counts stay in the group totals: nothing goes backwards, nothing is lost", async (t) => {
  const stub = async () => parseStub((await fetchInsecure(`${base}/nginx_status`)).body);
  const accepted = async () =>
    Number(
      /^portcullis_connections_accepted_total (\d+)$/m.exec((await fetchInsecure(`${base}/metrics`)).body)?.[1] ?? NaN,
    );
  const before = await stub();
  const N = 12;
  for (let i = 0; i < N; i++) t.equal((await fetchInsecure(`${base}/v2/`, { headers: alice })).status, 200);
  const mid = await stub();
  const s = await status();
  const victim = s.group.workers.find((w) => w.connections.requests > 0)!;
  // The last read before the kill: the primary has every worker's counters and metrics as of now.
  const metricsMid = await accepted();
  process.kill(victim.pid, 'SIGKILL');
  // Every request from here on lands on a live worker: each status read below is one more.
  let reads = 0;
  await until('the killed worker replaced', async () => {
    reads++;
    const now = await status();
    return now.group.workers.length === 2 && !now.group.workers.some((w) => w.pid === victim.pid);
  });
  const after = await stub();
  const metricsAfter = await accepted();
  t.ok(after.requests >= mid.requests, `requests did not go backwards (${mid.requests} → ${after.requests})`);
  t.ok(after.accepted >= mid.accepted, 'accepts did not go backwards');
  // Each request came on a connection of its own: N sent, the stub, status and metrics reads
  // before the kill, the status reads after it, and this read.
  const sent = N + 3 + reads + 1;
  t.equal(after.requests - before.requests, sent, "requests match what was sent, the dead worker's included");
  t.equal(after.accepted - before.accepted, sent, 'accepts too');
  t.equal(after.handled, after.accepted, 'handled = accepts');
  // After the last metrics read: the status reads, the stub read, and this metrics read.
  t.equal(metricsAfter - metricsMid, reads + 2, "/metrics kept the dead worker's accepted count");
  const retired = (await status()) as GroupStatus & { group: { retired: { workers: number; requests: number } } };
  t.ok(retired.group.retired.workers >= 2, '/_status counts the retired workers (both killed so far)');
});

t.test('SIGHUP under load: zero failed requests, the new user works on every worker', async (t) => {
  let ok = 0;
  let failed = 0;
  let running = true;
  const load = Array.from({ length: 6 }, async () => {
    while (running) {
      try {
        const r = await fetchInsecure(`${base}/v2/`, { headers: alice });
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  });
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, 'bob', 'pw']);
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 300));
    process.kill(gw.pid, 'SIGHUP');
  }
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await Promise.all(load);
  t.ok(ok > 30, `load was running (${ok} requests)`);
  t.equal(failed, 0, 'no request failed during five reloads');
  const bob = { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` };
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push((await fetchInsecure(`${base}/v2/`, { headers: bob })).status);
  t.same(answers, [200, 200, 200, 200], 'the added user is accepted by whichever worker answers');
});

t.test('brute force is counted for the group, not per worker', async (t) => {
  // The 4 wrong passwords alternate between the two workers (2 each, under the limit of 4
  // for either alone); the group has seen 4, so even the right password is now refused.
  const wrong = { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` };
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await fetchInsecure(`${base}/v2/`, { headers: wrong })).status);
  t.same(statuses, [401, 401, 401, 401], 'wrong passwords are refused');
  await new Promise((r) => setTimeout(r, 300));
  const after = [];
  for (let i = 0; i < 2; i++) after.push((await fetchInsecure(`${base}/v2/`, { headers: alice })).status);
  t.same(after, [429, 429], 'every worker now refuses this address');
});

t.test('SIGUSR1 reopens the access log: no line lost or torn', async (t) => {
  await new Promise((r) => setTimeout(r, 1500));
  const rotated = `${accessLog}.1`;
  await rename(accessLog, rotated);
  const sent = 40;
  const load = async (n: number) => {
    for (let i = 0; i < n; i++) await fetchInsecure(`${base}/v2/?i=${i}`);
  };
  const before = load(sent / 2);
  await new Promise((r) => setTimeout(r, 50));
  process.kill(gw.pid, 'SIGUSR1');
  await before;
  await load(sent / 2);
  await new Promise((r) => setTimeout(r, 2500)); // the log is flushed at least once a second
  const lines = [
    ...(await readFile(rotated, 'utf8')).split('\n'),
    ...(await readFile(accessLog, 'utf8').catch(() => '')).split('\n'),
  ].filter((l) => l !== '');
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as { path?: string };
    } catch {
      return undefined;
    }
  });
  t.ok(
    parsed.every((p) => p !== undefined),
    'every line is whole JSON',
  );
  const pings = parsed.filter((p) => p?.path?.startsWith('/v2/?i=')).length;
  t.equal(pings, sent, `all ${sent} requests sent around the reopen are logged`);
  t.ok((await readFile(accessLog, 'utf8')).length > 0, 'the reopened file receives lines');
});

t.test('SIGTERM drains every worker and ends the group with 0', async (t) => {
  const pids = (await status()).group.workers.map((w) => w.pid);
  const code = await gw.stop('SIGTERM');
  t.equal(code, 0, 'the primary exits 0');
  for (const pid of pids) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    t.notOk(alive, `worker ${pid} is gone`);
  }
});
