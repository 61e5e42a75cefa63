// Process, port, /proc and command helpers for the benchmark harness. Plain ESM, Node 20.
import { spawn, spawnSync, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
export const IS_ROOT = typeof process.geteuid === 'function' && process.geteuid() === 0;

export function log(...args) {
  const t = new Date().toISOString().slice(11, 19);
  console.error(`[bench ${t}]`, ...args);
}

export function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Run a command to completion with a hard timeout; resolves { code, stdout, stderr, ms }; never rejects on exit code. */
export function run(cmd, args, { timeoutMs = 600_000, env, cwd, input } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = execFile(
      cmd,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 << 20,
        env: env ? { ...process.env, ...env } : process.env,
        cwd,
      },
      (err, stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (err && err.code === 'ENOENT') return reject(new Error(`${cmd}: not found`));
        if (err?.killed)
          return reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${stderr}`));
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, ms });
      },
    );
    if (input !== undefined) child.stdin.end(input);
  });
}

export async function mustRun(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`);
  return r;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Every process the harness starts is registered here and stopped by PID at the end, whatever happens. */
const started = new Set();

export function startProcess(name, cmd, args, { env, cwd } = {}) {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d) => {
    out = (out + d.toString()).slice(-100_000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  proc.once('error', (e) => {
    out += `\nspawn error: ${e.message}`;
  });
  const handle = {
    name,
    proc,
    pid: proc.pid,
    exited,
    output: () => out,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      started.delete(handle);
      if (!handle.alive()) return exited;
      try {
        process.kill(proc.pid, signal);
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  started.add(handle);
  return handle;
}

export async function stopAll() {
  const all = [...started].reverse();
  await Promise.all(all.map((h) => h.stop(h.stopSignal ?? 'SIGTERM', 5_000).catch(() => {})));
}

/** Synchronous last resort for process exit handlers. */
export function killAllSync() {
  for (const h of started) {
    try {
      process.kill(h.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Poll a URL until it answers with any HTTP status. */
export async function waitForHttp(url, timeoutMs = 20_000, handle) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (handle && !handle.alive()) throw new Error(`${handle.name} exited before ${url} answered:\n${handle.output()}`);
    try {
      await httpDo(url, { method: 'GET' });
      return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${url}: ${last}\n${handle?.output() ?? ''}`);
}

/** One HTTP(S) request, self-signed certificates accepted; resolves { status, headers, body }. */
export function httpDo(url, { method = 'GET', headers = {}, timeoutMs = 10_000 } = {}) {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(u, { method, headers, rejectUnauthorized: false, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

/** The PID plus all its descendants (nginx master + workers). */
export function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i];
    try {
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (kids) for (const k of kids.split(/\s+/)) out.push(Number(k));
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

/** utime and stime in seconds of the given PIDs (each summed over the PIDs). */
export function userSysSeconds(pids) {
  let user = 0;
  let sys = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(fields[11]); // utime, stime: fields 14, 15 of stat
      sys += Number(fields[12]);
    } catch {
      /* gone */
    }
  }
  return { user: user / CLK_TCK, sys: sys / CLK_TCK };
}

/** utime+stime in seconds of the given PIDs (summed). */
export function cpuSeconds(pids) {
  const { user, sys } = userSysSeconds(pids);
  return user + sys;
}

/**
 * Starts measuring the PIDs: resets their peak RSS and reads their CPU clocks. stop() gives the
 * CPU seconds spent since (cpu = user + sys) and the summed peak RSS over the interval, in bytes.
 */
export function processMeter(pids) {
  resetPeakRss(pids);
  const before = userSysSeconds(pids);
  return {
    stop() {
      const after = userSysSeconds(pids);
      const user = after.user - before.user;
      const sys = after.sys - before.sys;
      return { cpu: user + sys, user, sys, peak: peakRss(pids) };
    },
  };
}

/** Reset VmHWM (peak RSS) so the next reading is the peak of one workload; false when not allowed. */
export function resetPeakRss(pids) {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Sum of one /proc/<pid>/status memory field (kB) over the PIDs, in bytes. */
function statusBytes(pids, field) {
  const re = new RegExp(`${field}:\\s+(\\d+) kB`);
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = re.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return kb * 1024;
}

/** Sum of VmRSS (resident now) over the PIDs, in bytes. */
export const currentRss = (pids) => statusBytes(pids, 'VmRSS');

/** Sum of VmHWM (peak resident since start or the last resetPeakRss) over the PIDs, in bytes. */
export const peakRss = (pids) => statusBytes(pids, 'VmHWM');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** skopeo with its own HOME (auth file, blob-info cache), so repetitions do not share state; throws on failure. */
export function skopeo(args, home) {
  const r = spawnSync('skopeo', args, {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data') },
    encoding: 'utf8',
    timeout: 1_800_000,
  });
  if (r.status !== 0) throw new Error(`skopeo ${args[0]} failed: ${r.stderr}`);
}

/**
 * Run a benchmark's main(): exit 0 when it resolves, 1 (with the stack) when it throws, after
 * `cleanup` (every started process stopped by PID). Processes still registered when the process
 * exits any other way are killed synchronously.
 */
export function runBench(main, cleanup = stopAll) {
  let finished = false;
  process.on('exit', () => {
    if (!finished) killAllSync();
  });
  main()
    .then(async () => {
      await cleanup();
      finished = true;
      process.exit(0);
    })
    .catch(async (e) => {
      console.error(e?.stack ?? e);
      await cleanup();
      finished = true;
      process.exit(1);
    });
}
