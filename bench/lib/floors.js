// Floors: what moving a GB costs before portcullis does anything, measured in the same run as the
// figures they bound, so a target can be read against what Node.js (or OpenSSL, or nginx) pays for
// the same bytes on this machine at this moment. bench/README.md, "Floors", says how each is read.
import { join } from 'node:path';
import { rm, stat, writeFile } from 'node:fs/promises';
import { mustRun, startProcess, freePort, waitForHttp, processMeter, processTree } from './sys.js';
import { ROOT, portcullisTlsDirectives } from './targets.js';
import { abHead } from './workloads.js';

/** A floor's figure: CPU s/GB for a transfer, CPU ms per request for the HEAD floor. */
export const floorCost = (row) => row.sPerGB ?? row.msPerRequest;

/** curl with a write-out of status and sizes; `upload` is sent as the body from that file (stdin). */
export async function curl(args, upload) {
  const w = ['-sS', '-k', '-w', '%{http_code} %{size_download} %{size_upload}'];
  const quoted = [...w, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = upload
    ? await mustRun('sh', ['-c', `exec curl ${quoted} -T - < '${upload}'`], { timeoutMs: 600_000 })
    : await mustRun('curl', [...w, ...args], { timeoutMs: 600_000 });
  const [code, down, up] = r.stdout.trim().split(' ').map(Number);
  return { code, down, up };
}

/** Run `work` against `pids`: CPU s/GB over `bytes` (and its user/system split) and peak RSS. */
export async function measureCpu(pids, bytes, work) {
  const meter = processMeter(pids);
  await work();
  const m = meter.stop();
  const gb = bytes / 1e9;
  return { sPerGB: m.cpu / gb, user: m.user / gb, sys: m.sys / gb, peak: m.peak };
}

/**
 * OpenSSL's own speed on this CPU, one second each: AES-128-GCM (the suite portcullis prefers)
 * on 16 KiB records, encrypt and decrypt, and SHA-256 on 1 MiB. s/GB = 1 / (GB/s).
 */
export async function cryptoFloors() {
  const speed = async (args, bytes) => {
    const r = await mustRun('openssl', ['speed', '-seconds', '1', '-bytes', String(bytes), ...args], {
      timeoutMs: 60_000,
    });
    // The result line: "<name>  <N>k" (thousands of bytes per second).
    const m = /^\S+\s+([\d.]+)k\s*$/m.exec(r.stdout);
    if (!m) throw new Error(`openssl speed ${args.join(' ')}: no result in\n${r.stdout}`);
    return 1e9 / (Number(m[1]) * 1000);
  };
  return [
    {
      key: 'aes-enc',
      what: 'OpenSSL AES-128-GCM encrypt, 16 KiB records',
      sPerGB: await speed(['-evp', 'aes-128-gcm'], 16384),
    },
    {
      key: 'aes-dec',
      what: 'OpenSSL AES-128-GCM decrypt, 16 KiB records',
      sPerGB: await speed(['-evp', 'aes-128-gcm', '-decrypt'], 16384),
    },
    { key: 'sha256', what: 'OpenSSL SHA-256, 1 MiB', sPerGB: await speed(['-evp', 'sha256'], 1 << 20) },
  ];
}

/**
 * The bare Node https server (bare-tls-server.mjs) and nginx serving the blob as a static file,
 * each with portcullis's TLS settings, curl as the client; `blob` is a file of `size` bytes.
 */
export async function transferFloors(work, { blob, size, tls }) {
  const rows = [];
  const port = await freePort();
  const rawPort = await freePort();
  const tlsModule = join(ROOT, 'dist', 'src', 'server', 'tls.js');
  const bare = startProcess('bare node https', process.execPath, [
    join(ROOT, 'bench', 'lib', 'bare-tls-server.mjs'),
    tls.cert,
    tls.key,
    String(port),
    String(rawPort),
    String(size),
    blob,
    join(work, 'floor-upload'),
    tlsModule,
  ]);
  const url = `https://127.0.0.1:${port}`;
  await waitForHttp(`${url}/ready`, 10_000, bare);
  const get = async (key, what, path) => {
    const m = await measureCpu([bare.pid], size, async () => {
      const r = await curl(['-o', '/dev/null', `${url}${path}`]);
      if (r.code !== 200 || r.down !== size) throw new Error(`bare node GET ${path}: ${r.code}, ${r.down} B`);
    });
    rows.push({ key, what, ...m });
  };
  const put = async (key, what, path, base = url) => {
    const m = await measureCpu([bare.pid], size, async () => {
      const r = await curl(['-o', '/dev/null', '-X', 'PUT', `${base}${path}`], blob);
      if (r.code !== 201) throw new Error(`bare node PUT ${path}: ${r.code}`);
    });
    rows.push({ key, what, ...m });
  };
  await get('node-send', 'bare Node https: GET from one reused 256 KiB buffer (Node TLS send floor)', '/memory');
  await get('node-send-file', 'bare Node https: GET of the file, 256 KiB reads into reused buffers', '/file');
  await put(
    'node-receive',
    "bare Node https: upload read with Node's parser and dropped (TLS + HTTP receive)",
    '/drop',
  );
  await put(
    'node-store',
    'bare Node https: upload SHA-256 hashed, written to a file, fsync (a push, nothing else)',
    '/store',
  );
  await mustHaveStored(join(work, 'floor-upload'), size, size);
  const head = processMeter([bare.pid]);
  const heads = await abHead({ url, auth: false }, { path: '/v2/floor/manifests/v1', seconds: 5 });
  rows.push({
    key: 'node-https-head',
    what: 'bare Node https: HEAD answered from constants, ab -k -c64 (ms per request)',
    msPerRequest: (head.stop().cpu / heads.requests) * 1000,
  });
  const raw = `https://127.0.0.1:${rawPort}`;
  await put(
    'node-tls-receive',
    'bare Node TLS socket, no HTTP server: upload read and dropped (Node TLS receive floor)',
    '/drop',
    raw,
  );
  await put(
    'node-tls-store',
    'the same, in 256 KiB blocks SHA-256 hashed and written to a file, fsync (Node push floor)',
    '/store',
    raw,
  );
  // The raw server stores the body with its chunked framing: a few bytes per curl chunk more.
  await mustHaveStored(join(work, 'floor-upload'), size, size * 1.01);
  await bare.stop();
  rows.push({
    key: 'nginx-static',
    what: 'nginx: the file as a static file over TLS (same TLS settings)',
    ...(await nginxStatic(work, { blob, size, tls })),
  });
  return rows;
}

/** A floor that stored less than the upload would be measuring less work than a push does. */
async function mustHaveStored(file, atLeast, atMost) {
  const { size } = await stat(file);
  if (size < atLeast || size > atMost) throw new Error(`floor upload stored ${size} B of ${atLeast}`);
  await rm(file);
}

async function nginxStatic(work, { blob, size, tls }) {
  const dir = join(work, 'nginx-static');
  const port = await freePort();
  await mustRun('mkdir', ['-p', join(dir, 'logs'), join(dir, 'www')]);
  await mustRun('ln', ['-sf', blob, join(dir, 'www', 'blob')]);
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes auto; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http { access_log off; sendfile on; client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/pt; fastcgi_temp_path ${dir}/ft; uwsgi_temp_path ${dir}/ut; scgi_temp_path ${dir}/st;
  server { listen 127.0.0.1:${port} ssl; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key};
${await portcullisTlsDirectives()}
    root ${dir}/www; } }
`,
  );
  const ng = startProcess('nginx static', 'nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;']);
  try {
    await waitForHttp(`https://127.0.0.1:${port}/`, 10_000, ng);
    return await measureCpu(processTree(ng.pid), size, async () => {
      const r = await curl(['-o', '/dev/null', `https://127.0.0.1:${port}/blob`]);
      if (r.down !== size) throw new Error(`nginx static GET: ${r.down} B`);
    });
  } finally {
    await ng.stop();
  }
}
