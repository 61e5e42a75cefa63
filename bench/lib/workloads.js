// The workloads: skopeo push and pull, curl GET of one big blob, wrk GET /v2/ and HEAD manifest by tag.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rm, mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { run, mustRun, IS_ROOT, log, httpDo } from './sys.js';
import { USER, PASSWORD, BASIC } from './targets.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const WRK_SCRIPT = join(HERE, '..', 'wrk-request.lua');
const ACCEPT =
  'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json';

/**
 * skopeo (containers/image) keeps a blob-info cache that remembers where blobs were seen and turns a
 * repeated push into a cross-repository mount. For root it lives in /var/lib/containers/cache with no
 * flag to move it, so each skopeo call runs in a private mount namespace with an empty tmpfs over
 * that directory; for other users a fresh XDG_DATA_HOME/HOME does the same. Either way every call
 * starts with an empty cache and a private auth file.
 */
let cacheMode = null;
export async function probeSkopeoIsolation() {
  if (!IS_ROOT) {
    cacheMode = 'fresh XDG_DATA_HOME/HOME per skopeo call';
    return cacheMode;
  }
  const r = await run(
    'unshare',
    [
      '-m',
      'sh',
      '-c',
      'mkdir -p /var/lib/containers/cache && mount -t tmpfs -o size=64m tmpfs /var/lib/containers/cache && ls -A /var/lib/containers/cache | wc -l',
    ],
    { timeoutMs: 10_000 },
  ).catch((e) => ({ code: 1, stderr: String(e) }));
  if (r.code === 0 && r.stdout.trim() === '0')
    cacheMode = 'private mount namespace with an empty tmpfs over /var/lib/containers/cache per skopeo call';
  else {
    cacheMode = 'UNISOLATED (unshare -m failed; fresh repository names only)';
    log(`warning: cannot isolate skopeo's blob-info cache: ${r.stderr}`);
  }
  return cacheMode;
}

export async function skopeo(args, { tmp, timeoutMs }) {
  await mkdir(tmp, { recursive: true });
  const env = {
    HOME: tmp,
    XDG_DATA_HOME: join(tmp, 'data'),
    XDG_CONFIG_HOME: join(tmp, 'config'),
    XDG_RUNTIME_DIR: tmp,
    REGISTRY_AUTH_FILE: join(tmp, 'auth.json'),
  };
  const all = ['--insecure-policy', '--tmpdir', tmp, ...args];
  if (IS_ROOT && cacheMode?.startsWith('private')) {
    return mustRun(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        'mount -t tmpfs -o size=64m tmpfs /var/lib/containers/cache && exec skopeo "$@"',
        'sh',
        ...all,
      ],
      { timeoutMs, env },
    );
  }
  return mustRun('skopeo', all, { timeoutMs, env });
}

function hostOf(url) {
  return new URL(url).host;
}

/** Push the OCI layout to a fresh repository of the target; returns seconds and verifies every blob by HEAD digest+size. */
export async function push(target, { image, repo, tmp, timeoutMs }) {
  const args = ['copy', '--dest-tls-verify=false'];
  if (target.auth) args.push('--dest-creds', `${USER}:${PASSWORD}`);
  args.push(`oci:${image.dir}:${image.tag}`, `docker://${hostOf(target.url)}/${repo}:v1`);
  const r = await skopeo(args, { tmp, timeoutMs });
  await verifyPushed(target, repo, image);
  return { seconds: r.ms / 1000, bytes: image.totalBytes };
}

async function verifyPushed(target, repo, image) {
  const headers = target.auth ? { authorization: `Basic ${BASIC}` } : {};
  for (const d of [image.config, ...image.layers]) {
    const res = await httpDo(`${target.url}/v2/${repo}/blobs/${d.digest}`, { method: 'HEAD', headers });
    if (res.status !== 200) throw new Error(`${target.name}: pushed blob ${d.digest} HEAD answered ${res.status}`);
    if (res.headers['docker-content-digest'] && res.headers['docker-content-digest'] !== d.digest)
      throw new Error(`${target.name}: blob ${d.digest} has digest ${res.headers['docker-content-digest']}`);
    if (Number(res.headers['content-length']) !== d.size)
      throw new Error(`${target.name}: blob ${d.digest} has length ${res.headers['content-length']}, pushed ${d.size}`);
  }
  const m = await httpDo(`${target.url}/v2/${repo}/manifests/v1`, {
    method: 'HEAD',
    headers: { ...headers, accept: ACCEPT },
  });
  if (m.status !== 200 || m.headers['docker-content-digest'] !== image.manifest.digest) {
    throw new Error(
      `${target.name}: manifest v1 answered ${m.status} digest ${m.headers['docker-content-digest']}, pushed ${image.manifest.digest}`,
    );
  }
}

export async function fileDigest(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/** Pull the repository into a fresh OCI layout; every blob in it is hashed and compared with its name and the pushed set. */
export async function pull(target, { image, repo, tmp, out, timeoutMs }) {
  await rm(out, { recursive: true, force: true });
  const args = ['copy', '--src-tls-verify=false'];
  if (target.auth) args.push('--src-creds', `${USER}:${PASSWORD}`);
  args.push(`docker://${hostOf(target.url)}/${repo}:v1`, `oci:${out}:v1`);
  const r = await skopeo(args, { tmp, timeoutMs });
  const files = await readdir(join(out, 'blobs', 'sha256'));
  const expected = new Set([image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)]);
  for (const f of files) {
    const d = await fileDigest(join(out, 'blobs', 'sha256', f));
    if (d !== `sha256:${f}`) throw new Error(`${target.name}: pulled blob ${f} hashes to ${d}`);
    expected.delete(d);
  }
  if (expected.size) throw new Error(`${target.name}: pull is missing ${[...expected].join(', ')}`);
  await rm(out, { recursive: true, force: true });
  return { seconds: r.ms / 1000, bytes: image.totalBytes };
}

/** GET one big blob with curl -o /dev/null; MB/s from curl's own size and time. */
export async function getBlob(target, { repo, blob, timeoutMs }) {
  const args = ['-sS', '-k', '-L', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}'];
  if (target.auth) args.push('-u', `${USER}:${PASSWORD}`);
  args.push(`${target.url}/v2/${repo}/blobs/${blob.digest}`);
  const r = await mustRun('curl', args, { timeoutMs });
  const [code, size, time] = r.stdout.trim().split(' ');
  if (code !== '200' || Number(size) !== blob.size)
    throw new Error(`${target.name}: blob GET answered ${code} with ${size} bytes (want ${blob.size})`);
  return { seconds: Number(time), bytes: Number(size) };
}

/** The same GET, outside the timing, piped into sha256 to verify the bytes served. */
export async function verifyBlobGet(target, { repo, blob, timeoutMs }) {
  const args = ['-sS', '-k', '-L'];
  if (target.auth) args.push('-u', `${USER}:${PASSWORD}`);
  args.push(`${target.url}/v2/${repo}/blobs/${blob.digest}`);
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const hash = createHash('sha256');
  for await (const c of child.stdout) hash.update(c);
  clearTimeout(timer);
  const d = `sha256:${hash.digest('hex')}`;
  if (d !== blob.digest) throw new Error(`${target.name}: GET blob served bytes hashing to ${d}, want ${blob.digest}`);
}

/** wrk -c64 against one path; method from the Lua script's environment. */
export async function wrk(target, { path, method, seconds, connections = 64, threads = 1 }) {
  const env = { WRK_METHOD: method, WRK_AUTH: target.auth ? BASIC : '', WRK_ACCEPT: method === 'HEAD' ? ACCEPT : '' };
  const args = [
    '-t',
    String(threads),
    '-c',
    String(connections),
    '-d',
    `${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    `${target.url}${path}`,
  ];
  const r = await mustRun('wrk', args, { env, timeoutMs: (seconds + 30) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`${target.name}: wrk printed no summary:\n${r.stdout}\n${r.stderr}`);
  const s = JSON.parse(line.slice(8));
  const errors = s.connect + s.read + s.write + s.status + s.timeout;
  if (s.status > 0 || s.requests === 0 || errors > s.requests * 0.001) {
    throw new Error(
      `${target.name}: wrk ${method} ${path}: ${s.requests} requests, errors ${JSON.stringify(s)}\n${r.stdout}`,
    );
  }
  return { requests: s.requests, seconds: s.duration_us / 1e6, p50ms: s.p50_us / 1000, p99ms: s.p99_us / 1000, errors };
}

/**
 * HEAD load with ApacheBench: Debian's wrk 4.1 completes no HEAD request at all (its parser waits for
 * the Content-Length body a HEAD response never has; measured: 0 requests in 1 s), so the Lua-script
 * route the issue suggests does not work with it. ab -i sends HEAD, -k keeps connections alive
 * (HTTP/1.0 + Connection: Keep-Alive), -c the same concurrency. BENCH_HEAD_TOOL=wrk for a wrk >= 4.2.
 */
export async function abHead(target, { path, seconds, connections = 64 }) {
  const args = [
    '-i',
    '-k',
    '-q',
    '-c',
    String(connections),
    '-t',
    String(seconds),
    '-n',
    '100000000',
    '-s',
    '10',
    '-l',
    '-H',
    `Accept: ${ACCEPT}`,
    '-H',
    'User-Agent: portcullis-bench/ab',
  ];
  if (target.auth) args.push('-H', `Authorization: Basic ${BASIC}`);
  args.push(`${target.url}${path}`);
  const r = await mustRun('ab', args, { timeoutMs: (seconds + 30) * 1000 });
  const num = (re) => {
    const m = re.exec(r.stdout);
    return m ? Number(m[1]) : NaN;
  };
  const complete = num(/Complete requests:\s+(\d+)/);
  const failed = num(/Failed requests:\s+(\d+)/);
  const non2xx = num(/Non-2xx responses:\s+(\d+)/) || 0;
  const keepAlive = num(/Keep-Alive requests:\s+(\d+)/);
  const took = num(/Time taken for tests:\s+([\d.]+)/);
  const p50 = num(/\n\s+50%\s+(\d+)/);
  const p99 = num(/\n\s+99%\s+(\d+)/);
  if (!(complete > 0) || failed > 0 || non2xx > 0)
    throw new Error(
      `${target.name}: ab HEAD ${path}: ${complete} complete, ${failed} failed, ${non2xx} non-2xx\n${r.stdout}`,
    );
  if (keepAlive < complete * 0.99)
    throw new Error(
      `${target.name}: ab HEAD ${path}: only ${keepAlive}/${complete} requests on kept-alive connections\n${r.stdout}`,
    );
  return { requests: complete, seconds: took, p50ms: p50, p99ms: p99, errors: 0 };
}

/** Check once that wrk really sends HEAD (and the target answers 200 with no body) before trusting its figures. */
export async function checkHeadWorks(target, repo) {
  const headers = { accept: ACCEPT, ...(target.auth ? { authorization: `Basic ${BASIC}` } : {}) };
  const res = await httpDo(`${target.url}/v2/${repo}/manifests/v1`, { method: 'HEAD', headers });
  if (res.status !== 200) throw new Error(`${target.name}: HEAD manifest answered ${res.status}`);
  const get = await httpDo(`${target.url}/v2/`, { headers: target.auth ? { authorization: `Basic ${BASIC}` } : {} });
  if (get.status !== 200) throw new Error(`${target.name}: GET /v2/ answered ${get.status}`);
}
