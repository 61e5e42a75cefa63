// Start the systems under test on loopback: registry:2, nginx (seed and tuned), portcullis (proxy and embedded).
import { writeFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCommand, run, mustRun, log, freePort, startProcess, waitForHttp, httpDo, IS_ROOT } from './sys.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const USER = 'bench';
export const PASSWORD = 'bench-password-1';
export const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

/** Install what the harness needs from Debian when a command is missing (skip when present). */
export async function ensureTools() {
  const need = {
    nginx: 'nginx',
    skopeo: 'skopeo',
    wrk: 'wrk',
    htpasswd: 'apache2-utils',
    openssl: 'openssl',
    curl: 'curl',
    unshare: 'util-linux',
  };
  if (!hasCommand('docker-registry') && !hasCommand('registry')) need['docker-registry'] = 'docker-registry';
  const missing = Object.entries(need)
    .filter(([cmd]) => !hasCommand(cmd))
    .map(([, pkg]) => pkg);
  if (!missing.length) return;
  log(`installing from Debian: ${missing.join(' ')}`);
  const sudo = IS_ROOT ? [] : ['sudo', '-n'];
  const apt = async (args) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    return mustRun(cmd, rest, { timeoutMs: 900_000, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  };
  await apt(['update']);
  await apt(['install', '-y', '--no-install-recommends', ...new Set(missing)]);
}

export async function makeHtpasswd(dir) {
  const file = join(dir, 'htpasswd');
  await mustRun('htpasswd', ['-Bbc', '-C', '5', file, USER, PASSWORD]);
  return file;
}

export async function makeCert(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await mustRun('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}

/** Debian's registry:2 with the tests' configuration (test/helpers/registry2-config.ts, from dist: build first). */
export async function startRegistry2(dir) {
  const port = await freePort();
  const root = join(dir, 'data');
  const { filesystemStorage, registry2Binary, registry2Config } = await import(
    join(ROOT, 'dist/test/helpers/registry2-config.js')
  );
  const config = registry2Config({ port, secret: 'portcullis-bench-secret', storage: filesystemStorage(root) });
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'config.yml');
  await writeFile(file, config);
  const h = startProcess('registry:2', registry2Binary(), ['serve', file], { env: { OTEL_TRACES_EXPORTER: 'none' } });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 20_000, h);
  return { handle: h, port, url };
}

const UA_RULE = 'if ($http_user_agent ~ "^(docker\\/1\\.(3|4|5(?!\\.[0-9]-dev))|Go ).*$" ) { return 404; }';

/** nginx directives for portcullis's TLS settings: TLS 1.2 and 1.3, its suites in its order (from dist/). */
export async function portcullisTlsDirectives() {
  const { CIPHERS } = await import(join(ROOT, 'dist', 'src', 'server', 'tls.js'));
  const suites = CIPHERS.split(':');
  return `    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_ciphers ${suites.filter((c) => !c.startsWith('TLS_')).join(':')};
    ssl_conf_command Ciphersuites ${suites.filter((c) => c.startsWith('TLS_')).join(':')};`;
}

/**
 * nginx as a non-daemon with its own prefix, pid, temp dirs and error log in `dir`.
 * worker_processes auto (= nproc). Access log off, like portcullis --access-log off.
 * seed: the ../shared/seeds/001 location block (auth_basic, add_header always, proxy_set_header
 * Host/X-Real-IP/X-Forwarded-*, proxy_read_timeout 900, client_max_body_size 0, chunked on) plus TLS.
 * tuned: the same plus proxy_request_buffering off, 256k proxy buffers without temp files,
 * HTTP/1.1 keep-alive upstream pool, and portcullis's TLS settings (src/server/tls.ts): TLS 1.2
 * and 1.3 (nginx 1.22 leaves 1.3 off by default) with the server's suite order, AES-128-GCM first,
 * so both pay for the same cipher and the comparison is of their work, not of a choice.
 */
export async function startNginx(dir, { kind, upstreamPort, htpasswd, tls }) {
  await mkdir(dir, { recursive: true });
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs'])
    await mkdir(join(dir, t), { recursive: true });
  const port = await freePort();
  const tuned = kind === 'tuned';
  const conf = `
${IS_ROOT ? 'user root root;' : ''}
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${tuned ? `upstream registry { server 127.0.0.1:${upstreamPort}; keepalive 64; }` : ''}
  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
${tuned ? await portcullisTlsDirectives() : ''}
    client_max_body_size 0;
    chunked_transfer_encoding on;
    location / {
      ${UA_RULE}
      auth_basic "registry.localhost";
      auth_basic_user_file ${htpasswd};
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      proxy_pass ${tuned ? 'http://registry' : `http://127.0.0.1:${upstreamPort}`};
      proxy_set_header  Host              $http_host;
      proxy_set_header  X-Real-IP         $remote_addr;
      proxy_set_header  X-Forwarded-For   $proxy_add_x_forwarded_for;
      proxy_set_header  X-Forwarded-Proto $scheme;
      proxy_read_timeout                  900;
${
  tuned
    ? `      proxy_http_version 1.1;
      proxy_set_header  Connection "";
      proxy_request_buffering off;
      proxy_buffering on;
      proxy_buffer_size 256k;
      proxy_buffers 8 256k;
      proxy_busy_buffers_size 512k;
      proxy_max_temp_file_size 0;`
    : ''
}
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  const t = await run('nginx', ['-t', '-p', dir, '-c', file, '-e', join(dir, 'logs', 'error.log')], {
    timeoutMs: 20_000,
  }).catch((e) => ({ code: 1, stderr: String(e) }));
  if (t.code !== 0) {
    // nginx < 1.19.5 has no -e; retry without it
    await mustRun('nginx', ['-t', '-p', dir, '-c', file], { timeoutMs: 20_000 });
  }
  const h = startProcess(`nginx ${kind}`, 'nginx', ['-p', dir, '-c', file, '-g', 'daemon off;']);
  h.stopSignal = 'SIGTERM';
  const url = `https://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 20_000, h);
  return { handle: h, port, url, conf: file };
}

/**
 * Extra node flags for every portcullis the benchmarks start (BENCH_PORTCULLIS_NODE_ARGS, e.g.
 * '--max-semi-space-size=1'); they come after the launcher's own flags, so they override them.
 */
export const PORTCULLIS_NODE_ARGS = (process.env.BENCH_PORTCULLIS_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * The node flags on the launcher's `#!/usr/bin/env -S VAR=value node ...` line: the `portcullis`
 * command, `npm start` and the Docker image run with them, so the benchmarks do too.
 */
export function launcherNodeArgs(bin) {
  return parseLauncher(bin).nodeArgs;
}

/** The environment the launcher's `#!` line sets before node (e.g. MALLOC_ARENA_MAX). */
export function launcherEnv(bin) {
  return parseLauncher(bin).env;
}

function parseLauncher(bin) {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const m = /^#!\S*env(?:\s+-S)?\s+((?:\w+=\S*\s+)*)node\s*(.*)$/.exec(first);
  if (!m) return { nodeArgs: [], env: {} };
  const env = Object.fromEntries(
    m[1]
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
  );
  return { nodeArgs: m[2].split(/\s+/).filter(Boolean), env };
}

/**
 * portcullis from dist/ on a free loopback port over TLS (plain HTTP without `tls`), access log off, log level warn:
 * proxying to `upstream` or serving the embedded core from `storage`; basic auth when `htpasswd`
 * is given; `workers` > 1 starts a group and waits until every worker is listening.
 * `env` is added to the process environment (e.g. NODE_CLUSTER_SCHED_POLICY).
 * `launcherFlags: false` leaves out the node flags and environment of the launcher's #! line (Node's
 * and glibc's own defaults).
 */
export async function startPortcullis(
  root,
  { upstream, storage, htpasswd, tls, workers, extraNodeArgs = [], env = {}, name, launcherFlags = true },
) {
  const port = await freePort();
  const bin = join(root, 'dist', 'bin', 'portcullis.js');
  const args = [
    ...(launcherFlags ? launcherNodeArgs(bin) : []),
    ...PORTCULLIS_NODE_ARGS,
    ...extraNodeArgs,
    bin,
    '--listen',
    `127.0.0.1:${port}`,
    ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : []),
    '--access-log',
    'off',
    '--log-level',
    'warn',
    '--shutdown-grace',
    '2s',
  ];
  if (htpasswd) args.push('--htpasswd', htpasswd);
  if (workers) args.push('--workers', String(workers));
  if (upstream) args.push('--upstream', upstream);
  else args.push('--storage', storage);
  const label = name ?? (upstream ? 'portcullis→registry:2' : 'portcullis embedded');
  const h = startProcess(label, process.execPath, args, {
    env: { ...(launcherFlags ? launcherEnv(bin) : {}), PORTCULLIS_LOG_LEVEL: 'warn', ...env },
  });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, workers > 1 ? 90_000 : 30_000, h);
  if (workers > 1) await waitForWorkers(url, workers, htpasswd);
  return { handle: h, port, url };
}

/** Polls /_status until it lists `count` workers (each worker listens on its own after the primary forks it). */
async function waitForWorkers(url, count, htpasswd) {
  const headers = htpasswd ? { authorization: `Basic ${BASIC}` } : {};
  for (let i = 0; i < 300; i++) {
    const { body } = await httpDo(`${url}/_status`, { headers });
    if (JSON.parse(body).group?.workers?.length === count) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url}: /_status did not list ${count} workers within 60 s`);
}
