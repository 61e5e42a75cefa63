/**
 * Start and stop the real components tests use (registry:2, portcullis, skopeo, ...):
 * loopback only, ports chosen here, stopped by PID when the test ends.
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { filesystemStorage, registry2Binary, registry2Config } from './registry2-config.js';

export const execFileP = promisify(execFile);
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const PORTCULLIS_BIN = join(ROOT, 'dist', 'bin', 'portcullis.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function tempDir(prefix = 'portcullis-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Why a test cannot run for want of `cmd` (naming the Debian package that has it), or null. */
export function missingCommand(cmd: string, debianPackage?: string): string | null {
  if (hasCommand(cmd)) return null;
  return `${cmd}${debianPackage ? ` (${debianPackage})` : ''} is not installed`;
}

export interface Running {
  proc: ChildProcess;
  pid: number;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Spawn a process, keep its output for diagnostics, and stop it by PID. */
export function startProcess(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Running {
  const proc = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(proc.pid!, signal);
        } catch {
          /* already gone */
        }
        const timer = setTimeout(() => {
          try {
            process.kill(proc.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 10_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return proc.exitCode;
    },
  };
}

/** Poll an HTTP(S) URL until it answers (any status) or the deadline passes. */
export async function waitForHttp(url: string, timeoutMs = 20_000, proc?: Running): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (proc && proc.proc.exitCode !== null)
      throw new Error(`process exited (${proc.proc.exitCode}) before ${url} answered:\n${proc.output()}`);
    try {
      await fetchInsecure(url);
      return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${url}: ${String(last)}\n${proc?.output() ?? ''}`);
}

/** A minimal request helper that accepts self-signed certificates; returns status, headers, body. */
export async function fetchInsecure(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: init.method ?? 'GET', headers: init.headers, rejectUnauthorized: false, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Start Debian's registry:2 (`docker-registry serve`) on a free loopback port with filesystem storage. */
export async function startRegistry2(
  opts: { root?: string; secret?: string; port?: number } = {},
): Promise<Running & { port: number; url: string; root: string; configDir: string }> {
  const port = opts.port ?? (await freePort());
  const configDir = await tempDir('registry2-');
  const root = opts.root ?? join(configDir, 'data');
  const config = registry2Config({
    port,
    secret: opts.secret ?? 'portcullis-test-secret',
    storage: filesystemStorage(root),
  });
  const file = join(configDir, 'config.yml');
  await writeFile(file, config);
  const running = startProcess(registry2Binary(), ['serve', file], { env: { OTEL_TRACES_EXPORTER: 'none' } });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 20_000, running);
  // Stopping also removes the config dir (and the data, unless the caller owns the root).
  const stop = async (signal?: NodeJS.Signals) => {
    const code = await running.stop(signal);
    if (signal !== 'SIGKILL') await removeDir(configDir);
    return code;
  };
  return { ...running, stop, port, url, root, configDir };
}

/** Start portcullis from the compiled entry point with the given flags; waits until it answers. */
export async function startPortcullis(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; probe?: string } = {},
): Promise<Running> {
  const running = startProcess(process.execPath, [PORTCULLIS_BIN, ...args], {
    env: { PORTCULLIS_LOG_LEVEL: 'warn', ...opts.env },
  });
  if (opts.probe) await waitForHttp(opts.probe, 20_000, running);
  return running;
}

/** Run skopeo with a private auth file and blob-info cache so runs never share state. */
export async function skopeo(
  args: string[],
  opts: { timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileP('skopeo', args, { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 << 20 });
}

/** skopeo copy from an OCI layout (`dir:tag`) to `host/repo:tag` over plain HTTP or self-signed TLS, digests kept. */
export function skopeoPush(layout: string, ref: string, extra: string[] = []) {
  return skopeo([
    'copy',
    '--dest-tls-verify=false',
    '--preserve-digests',
    ...extra,
    `oci:${layout}`,
    `docker://${ref}`,
  ]);
}

/** skopeo copy from `host/repo:tag` into an OCI layout (`dir:tag`), digests kept. */
export function skopeoPull(ref: string, layout: string, extra: string[] = []) {
  return skopeo(['copy', '--src-tls-verify=false', '--preserve-digests', ...extra, `docker://${ref}`, `oci:${layout}`]);
}
