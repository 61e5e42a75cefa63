#!/usr/bin/env node
// Peak RSS and CPU per GB of portcullis for each V8 young-generation size (--max-semi-space-size),
// on a blob upload (curl, one monolithic POST) and a blob GET (curl), embedded core and proxied to
// registry:2, over TLS with basic auth. Also the floors of bench/lib/floors.js: a bare Node https
// server sending and receiving the same bytes with nothing of portcullis in the way, next to nginx
// serving the same file as a static file.
//   node bench/young-gen.js                      (after npm run build)
//   BENCH_SIZE_MB=256 BENCH_SEMI='default,2,4,8' node bench/young-gen.js
//   BENCH_PORTCULLIS_ROOT=/other/checkout (built) measures that build of portcullis instead
//   BENCH_YG_SMALL_SECONDS=8 first loads each server with small requests (GET /v2/ with wrk, HEAD
//   manifest by tag with ab, 64 connections; CPU per request from /proc) as `npm run bench` does
//   before its later pushes, so the upload's peak RSS is that of a server that has served them
//   (0, the default, skips it). A size listed twice runs twice (interleaved rounds).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, stopAll, runBench, currentRss, processMeter, mustRun } from './lib/sys.js';
import {
  ensureTools,
  makeHtpasswd,
  makeCert,
  startRegistry2,
  startPortcullis,
  launcherNodeArgs,
  USER,
  PASSWORD,
} from './lib/targets.js';
import { wrk, abHead } from './lib/workloads.js';
import { backgroundLoad } from './lib/report.js';
import { curl, measureCpu, transferFloors } from './lib/floors.js';
import { renderFloors } from './lib/target-table.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const TARGET_ROOT = process.env.BENCH_PORTCULLIS_ROOT ?? ROOT;
const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 1024);
const SEMI = (process.env.BENCH_SEMI ?? 'default,1,2,4,8').split(',');
const ONLY = (process.env.BENCH_YG_ONLY ?? 'semi,floor').split(',');
const SMALL_SECONDS = Number(process.env.BENCH_YG_SMALL_SECONDS ?? 0);
/** What `default` means: the flags on the launcher's #! line (16 MiB semi-spaces is Node's own default). */
const LAUNCHER = launcherNodeArgs(join(TARGET_ROOT, 'dist', 'bin', 'portcullis.js'));

const mib = (b) => `${(b / 1048576).toFixed(0)} MiB`;

const measure = (pid, bytes, work) => measureCpu([pid], bytes, work);
const split = (m) => `${m.sPerGB.toFixed(2)} s/GB (user ${m.user.toFixed(2)}, sys ${m.sys.toFixed(2)})`;

async function semiRuns(work, blob, digest, htpasswd, tls) {
  const auth = ['-u', `${USER}:${PASSWORD}`];
  const reg = await startRegistry2(join(work, 'registry2'));
  const rows = [];
  for (const [round, semi] of SEMI.entries()) {
    const extraNodeArgs = semi === 'default' ? [] : [`--max-semi-space-size=${semi}`];
    for (const kind of ['embedded', 'proxied']) {
      const storage = join(work, `storage-${round}-${kind}`);
      const pc = await startPortcullis(TARGET_ROOT, {
        upstream: kind === 'proxied' ? reg.url : undefined,
        storage,
        htpasswd,
        tls,
        extraNodeArgs,
      });
      const pid = pc.handle.pid;
      await new Promise((r) => setTimeout(r, 3000));
      const idle = currentRss([pid]);
      const repo = `yg/${kind}${round}`;
      const size = SIZE_MB << 20;
      const small = SMALL_SECONDS > 0 ? await smallRequests(pc, pid, repo, auth) : null;
      const push = await measure(pid, size, async () => {
        // POST for a session, then the whole blob in the PUT that closes it (what registry:2 accepts too)
        const start = await mustRun(
          'curl',
          ['-sS', '-k', ...auth, '-X', 'POST', '-D', '-', '-o', '/dev/null', `${pc.url}/v2/${repo}/blobs/uploads/`],
          { timeoutMs: 30_000 },
        );
        const location = /^location:\s*(\S+)/im.exec(start.stdout)?.[1];
        if (!location) throw new Error(`${kind} ${semi}: no upload session: ${start.stdout}`);
        const session = new URL(location, pc.url);
        session.searchParams.set('digest', digest);
        const r = await curl(
          [...auth, '-o', '/dev/null', '-X', 'PUT', '-H', 'content-type: application/octet-stream', session.href],
          blob,
        );
        if (r.code !== 201) throw new Error(`${kind} ${semi}: upload answered ${r.code}`);
      });
      const get = await measure(pid, size, async () => {
        const r = await curl([...auth, '-o', '/dev/null', `${pc.url}/v2/${repo}/blobs/${digest}`]);
        if (r.code !== 200 || r.down !== size) throw new Error(`${kind} ${semi}: GET answered ${r.code}, ${r.down} B`);
      });
      const after = currentRss([pid]);
      rows.push({ semi, kind, idle, small, push, get, after });
      log(
        `semi ${semi} ${kind}: idle ${mib(idle)}, ${small ? `GET /v2/ ${small.v2.toFixed(3)} ms/req, HEAD ${small.head.toFixed(3)} ms/req, after them ${mib(small.after)}, ` : ''}upload ${push.sPerGB.toFixed(2)} s/GB peak ${mib(push.peak)}, GET ${get.sPerGB.toFixed(2)} s/GB peak ${mib(get.peak)}, after ${mib(after)}`,
      );
      await pc.handle.stop('SIGTERM', 15_000);
      await rm(storage, { recursive: true, force: true });
    }
  }
  await reg.handle.stop();
  return rows;
}

/** A one-layer manifest at `repo:v1` (an empty config blob), so HEAD by tag has something to answer. */
async function putManifest(pc, repo, auth) {
  const empty = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
  // POST for a session, then the body in the PUT that closes it (registry:2 has no single-POST upload)
  const start = await mustRun(
    'curl',
    ['-sS', '-k', ...auth, '-X', 'POST', '-D', '-', '-o', '/dev/null', `${pc.url}/v2/${repo}/blobs/uploads/`],
    { timeoutMs: 30_000 },
  );
  const session = new URL(/^location:\s*(\S+)/im.exec(start.stdout)?.[1] ?? '/', pc.url);
  session.searchParams.set('digest', empty);
  const put = (url, type, body) =>
    curl([...auth, '-o', '/dev/null', '-X', 'PUT', '-H', `content-type: ${type}`, '--data-binary', body, url]);
  // octet-stream: registry:2 would read a form-encoded body as a form
  const r = await put(session.href, 'application/octet-stream', '{}');
  if (r.code !== 201) throw new Error(`config blob: ${r.code}`);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: empty, size: 2 },
    layers: [],
  });
  const m = await put(`${pc.url}/v2/${repo}/manifests/v1`, 'application/vnd.oci.image.manifest.v1+json', manifest);
  if (m.code !== 201) throw new Error(`manifest: ${m.code}`);
}

/** GET /v2/ (wrk) and HEAD manifest by tag (ab) for SMALL_SECONDS each after a 2 s warm-up: CPU ms per request. */
async function smallRequests(pc, pid, repo, auth) {
  await putManifest(pc, repo, auth);
  const target = { name: 'portcullis', url: pc.url, auth: true };
  await wrk(target, { path: '/v2/', method: 'GET', seconds: 2 });
  const perRequest = async (load) => {
    const meter = processMeter([pid]);
    const r = await load();
    return (meter.stop().cpu / r.requests) * 1000;
  };
  const v2 = await perRequest(() => wrk(target, { path: '/v2/', method: 'GET', seconds: SMALL_SECONDS }));
  const head = await perRequest(() => abHead(target, { path: `/v2/${repo}/manifests/v1`, seconds: SMALL_SECONDS }));
  return { v2, head, after: currentRss([pid]) };
}

async function main() {
  const watchdog = setTimeout(() => {
    log('young-gen: time limit reached');
    stopAll().finally(() => process.exit(3));
  }, 30 * 60_000);
  watchdog.unref();
  await ensureTools();
  const work = await mkdtemp(join(tmpdir(), 'portcullis-yg-'));
  try {
    const bgBefore = await backgroundLoad(2000);
    const blob = join(work, 'blob');
    const size = SIZE_MB << 20;
    await writeFile(blob, randomBytes(size));
    const h = createHash('sha256');
    for await (const c of createReadStream(blob)) h.update(c);
    const digest = `sha256:${h.digest('hex')}`;
    const htpasswd = await makeHtpasswd(work);
    const tls = await makeCert(work);
    const L = [`# Young-generation size and the Node TLS floor, ${new Date().toISOString().slice(0, 16)}Z`, ''];
    L.push(
      `${SIZE_MB} MiB blob; background CPU busy before start ${(bgBefore * 100).toFixed(0)}%. CPU = utime+stime of the server process (/proc), per GB (10^9 B) moved.`,
      '',
    );
    if (ONLY.includes('semi')) {
      const rows = await semiRuns(work, blob, digest, htpasswd, tls);
      const smallHead = SMALL_SECONDS > 0 ? ' GET /v2/ CPU | HEAD by tag CPU | RSS after them |' : '';
      L.push(
        `| --max-semi-space-size | backend | idle RSS |${smallHead} upload CPU | upload peak RSS | GET CPU | GET peak RSS |`,
        `|---|---|---|${SMALL_SECONDS > 0 ? '---|---|---|' : ''}---|---|---|---|`,
      );
      for (const r of rows) {
        const small = r.small
          ? ` ${r.small.v2.toFixed(3)} ms/req | ${r.small.head.toFixed(3)} ms/req | ${mib(r.small.after)} |`
          : '';
        L.push(
          `| ${r.semi === 'default' ? `default (${LAUNCHER.join(' ') || 'none'})` : `${r.semi} MiB`} | ${r.kind} | ${mib(r.idle)} |${small} ${split(r.push)} | ${mib(r.push.peak)} | ${split(r.get)} | ${mib(r.get.peak)} |`,
        );
      }
      L.push('');
    }
    if (ONLY.includes('floor')) {
      const rows = await transferFloors(work, { blob, size, tls });
      L.push(...renderFloors(Object.fromEntries(rows.map((r) => [r.key, [r]]))));
    }
    L.push(`Background CPU busy after: ${((await backgroundLoad(2000)) * 100).toFixed(0)}%.`);
    console.log(L.join('\n'));
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

runBench(main);
