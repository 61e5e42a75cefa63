// Machine details, background load and the markdown report.
import { renderFloors, renderTargets } from './target-table.js';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { run, median } from './sys.js';

/** Fraction of all cores busy over `ms` (from /proc/stat): the noise other users put on the machine. */
export async function backgroundLoad(ms) {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + f[4];
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

async function version(cmd, args, re = /.*/) {
  try {
    const r = await run(cmd, args, { timeoutMs: 10_000 });
    const text = (r.stdout + r.stderr).trim().split('\n')[0];
    return (re.exec(text)?.[0] ?? text).trim();
  } catch {
    return 'n/a';
  }
}

export async function gitCommit() {
  const r = await run('git', ['rev-parse', '--short', 'HEAD']).catch(() => ({ stdout: 'n/a' }));
  const dirty = await run('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin']).catch(() => ({
    stdout: '',
  }));
  return r.stdout.trim() + (dirty.stdout.trim() ? ' (+ uncommitted changes in src/)' : '');
}

export async function machineDetails() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const mhz = /cpu MHz\s*:\s*(.*)/.exec(cpuinfo)?.[1];
  const nproc = (await run('nproc', [])).stdout.trim();
  const registryBin = (await run('sh', ['-c', 'command -v docker-registry || command -v registry'])).stdout.trim();
  return {
    date: new Date().toISOString(),
    nproc,
    cpu: `${model}${mhz ? ` (${Math.round(Number(mhz))} MHz)` : ''}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: (await run('uname', ['-sr'])).stdout.trim(),
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    node: process.version,
    nginx: await version('nginx', ['-v'], /nginx\/\S+/),
    registry: registryBin ? await version(registryBin, ['--version']) : 'n/a',
    skopeo: await version('skopeo', ['--version']),
    wrk: await version('wrk', ['-v'], /wrk \S+/),
    curl: await version('curl', ['--version'], /curl \S+/),
    openssl: await version('openssl', ['version']),
    commit: await gitCommit(),
  };
}

const fmt = (v, unit) => {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (unit === 'req/s') return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
};
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '–');
const mib = (b) => `${(b / 1048576).toFixed(0)} MiB`;

export function renderReport({
  cfg,
  machine,
  results,
  floors = {},
  workloads,
  targets,
  image,
  bigBlob,
  isolation,
  bg,
  bgAfter,
  minutes,
}) {
  const L = [];
  const med = (w, t) => median(results[w][t]?.map((r) => r.value) ?? []);
  const range = (w, t) => {
    const vs = results[w][t]?.map((r) => r.value) ?? [];
    return vs.length ? `${fmt(Math.min(...vs), '')}–${fmt(Math.max(...vs), '')}` : '';
  };
  const has = (k) => targets.some((t) => t.key === k);

  L.push(`# portcullis benchmark, ${machine.date.slice(0, 10)}`, '');
  if (cfg.note) L.push(cfg.note, '');
  const busy = `Background CPU busy (all cores, measured with our processes idle): ${(bg * 100).toFixed(0)}% before, ${(bgAfter * 100).toFixed(0)}% after; load average at the end ${machine.loadavg}.`;
  // Only a machine that was busy with other work gets the warning; a quiet one says so.
  if (Math.max(bg, bgAfter) > 0.15)
    L.push(
      `**Noise warning:** this run shared the ${machine.nproc}-core machine with other work. ${busy} Treat the figures as noisy; compare ratios within this run, not across runs.`,
      '',
    );
  else L.push(`Quiet machine: ${busy}`, '');
  L.push(
    `Image: ${cfg.sizeMB} MiB in ${cfg.layers} incompressible layer(s) (gzip level 0), ${image.totalBytes} bytes of blobs; ` +
      `big blob ${bigBlob.size} bytes. ${cfg.reps} interleaved repetitions (every workload runs for every target before the next; ` +
      `target order rotates each repetition). Cells: median (min–max). MB = 10^6 bytes. GET /v2/: wrk, 1 thread, ${cfg.connections} connections; ` +
      `HEAD: ${cfg.headTool === 'ab' ? `ab -i -k -c${cfg.connections} (Debian's wrk 4.1 completes no HEAD request: its parser waits for a body)` : `wrk -c${cfg.connections}`}; ` +
      `${cfg.wrkSeconds} s each after a ${cfg.wrkWarmup} s warm-up. Run took ${minutes.toFixed(1)} min.`,
    '',
  );

  // Matrix of medians.
  L.push('## Medians', '');
  L.push(`| workload | ${targets.map((t) => `${t.name} (${t.listener})`).join(' | ')} |`);
  L.push(`|---|${targets.map(() => '---').join('|')}|`);
  for (const w of workloads) {
    L.push(
      `| ${w.title} (${w.unit}) | ${targets.map((t) => `${fmt(med(w.key, t.key), w.unit)} (${range(w.key, t.key)})`).join(' | ')} |`,
    );
  }
  L.push('');

  // Per target detail: ratios, CPU, memory.
  L.push('## Ratios, gateway CPU and peak RSS', '');
  L.push(
    'Gateway CPU is utime+stime from /proc/PID/stat of the process in front (registry:2 itself for direct; nginx master+workers; the portcullis process) ' +
      "over the measured window, per request (small requests) or per GB moved (transfers). registry:2 CPU is the upstream's share for the proxied targets. " +
      'Peak RSS is VmHWM after resetting it (/proc/PID/clear_refs 5) before each measurement, max over repetitions; nginx is the sum over master and workers.',
    '',
  );
  L.push(
    '| workload | target | median | min–max | × direct | × nginx seed | × nginx tuned | gateway CPU | registry:2 CPU | peak RSS |',
  );
  L.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const w of workloads) {
    for (const t of targets) {
      const rs = results[w.key][t.key] ?? [];
      if (!rs.length) continue;
      const v = med(w.key, t.key);
      const cpu = (x) =>
        x === null ? '–' : w.kind === 'bytes' ? `${x.toFixed(2)} s/GB` : `${(x * 1000).toFixed(3)} ms/req`;
      const gw = median(rs.map((r) => r.gwCpu));
      const rg = rs[0].regCpu === null ? null : median(rs.map((r) => r.regCpu));
      const rss = Math.max(...rs.map((r) => r.rss));
      L.push(
        `| ${w.title} | ${t.name} | ${fmt(v, w.unit)} ${w.unit} | ${range(w.key, t.key)} | ` +
          `${t.key === 'direct' ? '1.00x' : has('direct') ? ratio(v, med(w.key, 'direct')) : '–'} | ` +
          `${has('nginx-seed') && t.key !== 'direct' ? ratio(v, med(w.key, 'nginx-seed')) : '–'} | ` +
          `${has('nginx-tuned') && t.key !== 'direct' ? ratio(v, med(w.key, 'nginx-tuned')) : '–'} | ` +
          `${cpu(gw)} | ${cpu(rg)} | ${mib(rss)} |`,
      );
    }
  }
  L.push('');

  L.push(...renderTargets({ results, floors }));
  if (Object.keys(floors).length) L.push(...renderFloors(floors));

  // Small-request latency from wrk.
  const small = workloads.filter((w) => w.kind === 'requests');
  if (small.length) {
    L.push('## Small-request latency (median over repetitions)', '');
    L.push('| workload | target | p50 | p99 |');
    L.push('|---|---|---|---|');
    for (const w of small)
      for (const t of targets) {
        const rs = results[w.key][t.key] ?? [];
        if (!rs.length) continue;
        L.push(
          `| ${w.title} | ${t.name} | ${median(rs.map((r) => r.p50ms)).toFixed(2)} ms | ${median(rs.map((r) => r.p99ms)).toFixed(2)} ms |`,
        );
      }
    L.push('');
  }

  L.push('## Setup', '');
  L.push(
    '- registry:2: Debian `docker-registry serve`, filesystem storage in a temp dir, `http.secret`, log level warn, access log disabled; one instance, the upstream of every proxy target and the "direct" target (plain HTTP, no auth).',
  );
  L.push('- htpasswd: one bcrypt user, cost 5 (`htpasswd -Bbc -C 5`), shared by nginx and portcullis.');
  L.push(
    '- TLS: one RSA-2048 self-signed certificate made by openssl, used by both nginx listeners and both portcullis listeners (`--tls-cert/--tls-key`), and the same protocol and suite order for nginx tuned and portcullis (TLS 1.3, AES-128-GCM preferred by the server); the seed keeps nginx 1.22 defaults (TLS 1.2, chosen by the client: curl takes AES-256-GCM, skopeo AES-128-GCM).',
  );
  L.push(
    '- nginx: `nginx -p DIR -c CONF -g "daemon off;"` with its own prefix, pid, temp dirs and error log in a temp dir, `worker_processes auto` (= nproc), access log off (like portcullis `--access-log off`).',
  );
  L.push(
    '  - seed: the ../shared/seeds/001 location block (UA rule, auth_basic, `add_header Docker-Distribution-Api-Version registry/2.0 always`, proxy_set_header Host/X-Real-IP/X-Forwarded-For/X-Forwarded-Proto, proxy_read_timeout 900, client_max_body_size 0, chunked_transfer_encoding on) plus `listen ssl`.',
  );
  L.push(
    "  - tuned: seed plus `proxy_request_buffering off`, `proxy_buffer_size 256k`, `proxy_buffers 8 256k`, `proxy_max_temp_file_size 0`, HTTP/1.1 upstream with `keepalive 64`, `ssl_protocols TLSv1.2 TLSv1.3`, `ssl_prefer_server_ciphers on` and portcullis's suite order (`ssl_ciphers`, `ssl_conf_command Ciphersuites`).",
  );
  L.push(
    '- portcullis: `node dist/bin/portcullis.js --listen 127.0.0.1:PORT --tls-cert --tls-key --htpasswd FILE --access-log off --log-level warn`, with `--upstream` registry:2 or `--storage DIR` (embedded core).',
  );
  L.push(
    `- skopeo: \`skopeo copy\` from/to an OCI layout, \`--dest-tls-verify=false\`/\`--src-tls-verify=false\`, a fresh repository per repetition and target, blob-info cache isolation: ${isolation}.`,
  );
  L.push(
    '- Verification: after every push, HEAD of every blob and the manifest (Docker-Content-Digest and Content-Length must match); after every pull, every blob of the pulled OCI layout is hashed and matched with its name and the pushed set; every blob GET is repeated outside the timing and hashed; wrk runs must have no non-2xx answers and no errors.',
  );
  L.push('');
  L.push('## Machine', '');
  L.push('| | |', '|---|---|');
  for (const [k, v] of Object.entries(machine)) L.push(`| ${k} | ${v} |`);
  L.push('');
  L.push(
    `Configuration: \`${JSON.stringify({ BENCH_SIZE_MB: cfg.sizeMB, BENCH_LAYERS: cfg.layers, BENCH_REPS: cfg.reps, BENCH_WRK_SECONDS: cfg.wrkSeconds, BENCH_CONNECTIONS: cfg.connections })}\``,
    '',
  );
  return L.join('\n');
}
