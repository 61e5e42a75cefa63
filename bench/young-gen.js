#!/usr/bin/env node
// Peak RSS and CPU per GB of portcullis for each V8 young-generation size (--max-semi-space-size),
// on a blob upload (curl, one monolithic POST) and a blob GET (curl), embedded core and proxied to
// registry:2, over TLS with basic auth. Also the Node.js TLS floor: a bare https server that sends
// one reused in-memory buffer to curl and one that takes an upload from curl and drops it, with
// nothing of portcullis in the way, next to nginx serving the same file as a static file.
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
import {
  log,
  stopAll,
  runBench,
  currentRss,
  processMeter,
  processTree,
  mustRun,
  startProcess,
  freePort,
  waitForHttp,
} from './lib/sys.js';
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

/** curl with the write-out the runs check; `upload` is sent as the body from stdin (curl -T would append its name to a URL ending in /). */
async function curl(args, upload) {
  const w = ['-sS', '-k', '-w', '%{http_code} %{size_download} %{size_upload}'];
  const quoted = [...w, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = upload
    ? await mustRun('sh', ['-c', `exec curl ${quoted} -T - < '${upload}'`], { timeoutMs: 600_000 })
    : await mustRun('curl', [...w, ...args], { timeoutMs: 600_000 });
  const [code, down, up] = r.stdout.trim().split(' ').map(Number);
  return { code, down, up };
}

/** Run `work` against `pid`, returning CPU s/GB (and its user/system split) and peak RSS over it. */
async function measure(pid, bytes, work) {
  const meter = processMeter([pid]);
  await work();
  const m = meter.stop();
  const gb = bytes / 1e9;
  return { sPerGB: m.cpu / gb, user: m.user / gb, sys: m.sys / gb, peak: m.peak };
}
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

/** A bare Node https server: GET sends SIZE from one reused buffer in 256 KiB writes; PUT reads and drops. */
const BARE_SERVER = `
const https = require('node:https');
const fs = require('node:fs');
const [cert, key, port, size, hash] = process.argv.slice(1);
const block = Buffer.alloc(256 * 1024, 7);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  if (req.url === '/ready') return void res.writeHead(204).end();
  if (req.method === 'GET') {
    let left = Number(size);
    res.writeHead(200, { 'content-length': left });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  const h = hash === '1' ? require('node:crypto').createHash('sha256') : null;
  req.on('data', (c) => h && h.update(c));
  req.on('end', () => { h && h.digest(); res.writeHead(201).end(); });
}).listen(Number(port), '127.0.0.1');
`;

async function floorRuns(work, blob, tls) {
  const size = SIZE_MB << 20;
  const rows = [];
  for (const hash of ['0', '1']) {
    const port = await freePort();
    const h = startProcess('bare node https', process.execPath, [
      '-e',
      BARE_SERVER,
      tls.cert,
      tls.key,
      String(port),
      String(size),
      hash,
    ]);
    const url = `https://127.0.0.1:${port}/`;
    await waitForHttp(`${url}ready`, 10_000, h);
    if (hash === '0') {
      const send = await measure(h.pid, size, async () => {
        const r = await curl(['-o', '/dev/null', url]);
        if (r.down !== size) throw new Error(`bare node GET: ${r.down} B`);
      });
      rows.push({ what: 'bare Node https, GET from one reused buffer (TLS send floor)', ...send });
    }
    const recv = await measure(h.pid, size, async () => {
      const r = await curl(['-o', '/dev/null', '-X', 'PUT', url], blob);
      if (r.code !== 201) throw new Error(`bare node PUT: ${r.code}`);
    });
    rows.push({
      what:
        hash === '1'
          ? 'bare Node https, upload read and SHA-256 hashed per piece'
          : 'bare Node https, upload read and dropped (TLS + HTTP receive floor)',
      ...recv,
    });
    await h.stop();
  }
  // nginx serving the same file over TLS as a static file (sendfile does not apply to TLS in user space)
  const dir = join(work, 'nginx');
  const port = await freePort();
  await mustRun('mkdir', ['-p', join(dir, 'logs'), join(dir, 'www')]);
  await mustRun('ln', ['-sf', blob, join(dir, 'www', 'blob')]);
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes auto; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http { access_log off; sendfile on; client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/pt; fastcgi_temp_path ${dir}/ft; uwsgi_temp_path ${dir}/ut; scgi_temp_path ${dir}/st;
  server { listen 127.0.0.1:${port} ssl; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key}; root ${dir}/www; } }
`,
  );
  const ng = startProcess('nginx static', 'nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;']);
  const url = `https://127.0.0.1:${port}/blob`;
  await waitForHttp(`https://127.0.0.1:${port}/`, 10_000, ng);
  const meter = processMeter(processTree(ng.pid));
  const r = await curl(['-o', '/dev/null', url]);
  if (r.down !== size) throw new Error(`nginx static GET: ${r.down} B`);
  const m = meter.stop();
  rows.push({
    what: 'nginx static file over TLS (same certificate, worker_processes auto)',
    sPerGB: m.cpu / (size / 1e9),
    peak: m.peak,
  });
  await ng.stop();
  return rows;
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
      const rows = await floorRuns(work, blob, tls);
      L.push('| floor | CPU | peak RSS |', '|---|---|---|');
      for (const r of rows)
        L.push(`| ${r.what} | ${r.user === undefined ? `${r.sPerGB.toFixed(2)} s/GB` : split(r)} | ${mib(r.peak)} |`);
      L.push('');
    }
    L.push(`Background CPU busy after: ${((await backgroundLoad(2000)) * 100).toFixed(0)}%.`);
    console.log(L.join('\n'));
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

runBench(main);
