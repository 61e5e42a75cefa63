/**
 * A private Docker daemon for end-to-end tests with the real docker client.
 *
 * Debian's docker.io runs here without containers: no iptables, no bridge, vfs storage, its
 * own data-root, exec-root, socket, pidfile and daemon.json, so it touches nothing of the
 * host's docker. dockerd starts (and on SIGTERM stops) its own containerd under the
 * exec-root. Start one per test file (it takes a second or two) and stop it by PID.
 *
 * Every `docker` call gets DOCKER_HOST pointing at this daemon and a DOCKER_CONFIG directory
 * chosen by the caller, so credentials saved by `docker login` never leak between tests.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, mkdir, writeFile, readFile, chmod, readdir, lstat, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, hasCommand, execFileP, type Running } from './processes.js';
import { fileDigest, type GeneratedImage } from './oci-image.js';
import type { Test } from 'tap';

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  output: string;
  ms: number;
}

export interface Dockerd {
  root: string;
  socket: string;
  host: string;
  pid: number;
  daemon: Running;
  /** A fresh, empty DOCKER_CONFIG directory (one per "user" in a test). */
  newConfig: (name?: string) => Promise<string>;
  /** Run the docker client against this daemon; never throws on a non-zero exit. */
  run: (args: string[], opts?: { config?: string; input?: string; timeoutMs?: number }) => Promise<DockerResult>;
  /** Run the docker client; throws with the full output when it exits non-zero. */
  ok: (args: string[], opts?: { config?: string; input?: string; timeoutMs?: number }) => Promise<DockerResult>;
  /** The daemon's log so far, for failure messages. */
  log: () => string;
  stop: () => Promise<void>;
}

export type DockerdStart = { ok: true; dockerd: Dockerd } | { ok: false; reason: string };

const DOCKER_CLI = process.env.E2E_DOCKER_CLI ?? 'docker';
const DOCKERD = process.env.E2E_DOCKERD ?? 'dockerd';

/** Remove a tree that may hold read-only directories (vfs layers keep the image's modes). */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    return;
  } catch {
    /* fall through: make everything writable and retry */
  }
  const walk = async (p: string): Promise<void> => {
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      try {
        await chmod(p, 0o700);
      } catch {
        /* best effort */
      }
      for (const e of await readdir(p).catch(() => [] as string[])) await walk(join(p, e));
    }
  };
  await walk(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** GET /_ping on the daemon's unix socket; resolves with the status code. */
function ping(socket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('timeout', () => req.destroy(new Error('ping timeout')));
    req.on('error', reject);
    req.end();
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The log lines that explain a failed start (errors and fatals), or the tail of the log. */
function explain(log: string): string {
  const lines = log.split('\n').filter(Boolean);
  const bad = lines.filter((l) =>
    /level=(error|fatal)|failed to start|permission denied|operation not permitted|^Error|^failed/i.test(l),
  );
  return (bad.length ? bad : lines).slice(-8).join(' | ');
}

/**
 * Start a private dockerd. Resolves `{ ok: false, reason }` (with the daemon's own log lines)
 * when docker is not installed or the daemon cannot run in this environment, so the caller
 * can skip instead of failing.
 */
export async function startDockerd(
  opts: { timeoutMs?: number /** daemon.json settings, e.g. registry-mirrors. */; daemonConfig?: object } = {},
): Promise<DockerdStart> {
  if (!hasCommand(DOCKERD)) return { ok: false, reason: `${DOCKERD} is not installed (Debian package docker.io)` };
  if (!hasCommand(DOCKER_CLI)) return { ok: false, reason: `the ${DOCKER_CLI} client is not installed` };
  if (!hasCommand('skopeo'))
    return { ok: false, reason: 'skopeo is not installed (needed to build docker-archive images)' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { ok: false, reason: `dockerd needs root here (uid ${process.getuid()}); rootless docker is not set up` };

  // Short root: the daemon's and containerd's unix sockets live under it (108-byte limit).
  const root = await mkdtemp('/tmp/dkd-');
  const socket = join(root, 'd.sock');
  const execRoot = join(root, 'x');
  const dataRoot = join(root, 'data');
  const configs = join(root, 'cfg');
  await mkdir(configs);
  const daemonJson = join(root, 'daemon.json');
  await writeFile(daemonJson, `${JSON.stringify(opts.daemonConfig ?? {})}\n`);
  const pidfile = join(root, 'd.pid');
  const args = [
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--ip-forward=false',
    '--ip-masq=false',
    '--userland-proxy=false',
    '--storage-driver=vfs',
    '--data-root',
    dataRoot,
    '--exec-root',
    execRoot,
    '-H',
    `unix://${socket}`,
    '--pidfile',
    pidfile,
    '--config-file',
    daemonJson,
    '--log-level',
    'info',
  ];
  const env = {
    NO_PROXY: '127.0.0.1,localhost,::1',
    no_proxy: '127.0.0.1,localhost,::1',
    HTTP_PROXY: '',
    HTTPS_PROXY: '',
    http_proxy: '',
    https_proxy: '',
  };
  const daemon = startProcess(DOCKERD, args, { env });
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastErr = '';
  for (;;) {
    if (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null) {
      await removeTree(root);
      return {
        ok: false,
        reason: `dockerd exited (${daemon.proc.exitCode ?? daemon.proc.signalCode}) at start-up: ${explain(daemon.output())}`,
      };
    }
    if (existsSync(socket)) {
      try {
        if ((await ping(socket)) === 200) break;
      } catch (e) {
        lastErr = String(e);
      }
    }
    if (Date.now() > deadline) {
      await daemon.stop('SIGKILL');
      await removeTree(root);
      return {
        ok: false,
        reason: `dockerd did not answer /_ping within ${(opts.timeoutMs ?? 60_000) / 1000}s (${lastErr}): ${explain(daemon.output())}`,
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  // containerd started by dockerd: remember its PID so it is stopped even if dockerd is killed.
  const containerdPid = async (): Promise<number | null> => {
    for (const f of [join(execRoot, 'containerd', 'containerd.pid'), join(execRoot, 'containerd.pid')]) {
      const n = Number((await readFile(f, 'utf8').catch(() => '')).trim());
      if (n > 0) return n;
    }
    return null;
  };
  const cPid = await containerdPid();
  // If the test process dies without its teardown, do not leave a daemon behind.
  const onExit = () => {
    for (const pid of [daemon.pid, cPid])
      if (pid && pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
  };
  process.once('exit', onExit);

  const host = `unix://${socket}`;
  let configCount = 0;
  const run = (
    argv: string[],
    o: { config?: string; input?: string; timeoutMs?: number } = {},
  ): Promise<DockerResult> =>
    new Promise((resolve, reject) => {
      const childEnv: NodeJS.ProcessEnv = {
        ...process.env,
        DOCKER_HOST: host,
        DOCKER_CONFIG: o.config ?? join(configs, 'default'),
        DOCKER_CLI_HINTS: 'false',
        DOCKER_CLI_TELEMETRY_OPTOUT: '1',
      };
      for (const k of ['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_TLS', 'DOCKER_API_VERSION'])
        delete childEnv[k];
      const child = spawn(DOCKER_CLI, argv, {
        env: childEnv,
        stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let output = '';
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d;
        output += d;
      });
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d;
        output += d;
      });
      const timer = setTimeout(() => {
        try {
          process.kill(child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, o.timeoutMs ?? 300_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      const t0 = Date.now();
      child.on('close', (code) => {
        clearTimeout(timer);
        const ms = Date.now() - t0;
        if (process.env.E2E_DEBUG)
          process.stderr.write(`# docker ${argv.join(' ')} -> ${code} in ${ms} ms\n${code ? output : ''}`);
        resolve({ code, stdout, stderr, output, ms });
      });
      if (child.stdin) {
        child.stdin.on('error', () => {
          /* docker may exit before reading its stdin */
        });
        child.stdin.end(o.input);
      }
    });
  const ok = async (argv: string[], o: { config?: string; input?: string; timeoutMs?: number } = {}) => {
    const r = await run(argv, o);
    if (r.code !== 0)
      throw new Error(
        `docker ${argv.join(' ')} exited ${r.code}:\n${r.output}\n--- dockerd log (tail) ---\n${daemon.output().slice(-4000)}`,
      );
    return r;
  };
  await mkdir(join(configs, 'default'));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await daemon.stop('SIGTERM');
    if (cPid && pidAlive(cPid)) {
      try {
        process.kill(cPid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 100 && pidAlive(cPid); i++) await new Promise((r) => setTimeout(r, 100));
      if (pidAlive(cPid)) {
        try {
          process.kill(cPid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await removeTree(root);
  };

  return {
    ok: true,
    dockerd: {
      root,
      socket,
      host,
      pid: daemon.pid,
      daemon,
      run,
      ok,
      stop,
      log: () => daemon.output(),
      newConfig: async (name = 'user') => {
        const dir = join(configs, `${name}-${++configCount}`);
        await mkdir(dir);
        return dir;
      },
    },
  };
}

/** The diff_ids (digests of the uncompressed layer tars) from a generated image's config. */
export async function diffIds(image: GeneratedImage): Promise<string[]> {
  const config = JSON.parse(await readFile(join(image.dir, 'blobs', 'sha256', image.config.digest.slice(7)), 'utf8'));
  return config.rootfs.diff_ids;
}

/**
 * Load a generated OCI image into the daemon as `ref`, the way a user would:
 * `skopeo copy oci:DIR:TAG docker-archive:FILE:REF` then `docker load -i FILE`.
 */
export async function loadImage(dk: Dockerd, image: GeneratedImage, ref: string, work: string): Promise<void> {
  const archive = join(work, `load-${Date.now()}-${Math.random().toString(36).slice(2)}.tar`);
  await execFileP('skopeo', ['copy', '--quiet', `oci:${image.dir}:${image.tag}`, `docker-archive:${archive}:${ref}`], {
    timeout: 300_000,
    maxBuffer: 16 << 20,
  });
  await dk.ok(['load', '-i', archive]);
  await rm(archive, { force: true });
}

export interface ImageInfo {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  RootFS: { Type: string; Layers: string[] };
}

/** `docker image inspect REF`, or null when the daemon has no such image. */
export async function inspectImage(dk: Dockerd, ref: string): Promise<ImageInfo | null> {
  const r = await dk.run(['image', 'inspect', ref]);
  if (r.code !== 0) {
    if (/no such image/i.test(r.output)) return null;
    throw new Error(`docker image inspect ${ref} exited ${r.code}: ${r.output}`);
  }
  return JSON.parse(r.stdout)[0];
}

/**
 * `docker save REF` and the sha256 of every layer tar in it, in image order: what the daemon
 * really holds, byte for byte (to compare with the image's diff_ids).
 */
export async function savedLayerDigests(dk: Dockerd, ref: string, work: string): Promise<string[]> {
  const dir = await mkdtemp(join(work, 'save-'));
  const archive = join(dir, 'image.tar');
  await dk.ok(['save', '-o', archive, ref]);
  const out = join(dir, 'x');
  await mkdir(out);
  await execFileP('tar', ['-xf', archive, '-C', out], { timeout: 120_000 });
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
  const digests: string[] = [];
  for (const layer of manifest[0].Layers as string[]) digests.push(await fileDigest(join(out, layer)));
  await removeTree(dir);
  return digests;
}

/** The manifest digest docker prints at the end of a push ("v1: digest: sha256:... size: N"). */
export function pushedDigest(output: string, tag: string): string | undefined {
  return new RegExp(`${tag}: digest: (sha256:[0-9a-f]{64}) size: \\d+`).exec(output)?.[1];
}

/**
 * What a user does with a registry and the docker client: push a loaded image, remove it
 * locally, pull it back. Asserts what they would see: the push prints a manifest digest the
 * registry serves, the pulled image has the same ID and layers (diff_ids) as the original,
 * `docker save` gives back layer tars whose sha256 are those diff_ids, and RepoDigests names
 * the pushed digest. Returns the pushed manifest digest.
 */
export async function pushRmiPull(
  t: Test,
  dk: Dockerd,
  o: {
    ref: string;
    tag: string;
    image: GeneratedImage;
    work: string;
    config?: string;
    origin: string;
    repo: string;
    save?: boolean;
  },
): Promise<string> {
  const expected = await diffIds(o.image);
  const before = await inspectImage(dk, o.ref);
  t.ok(before, `${o.ref} is loaded`);
  t.same(before?.RootFS.Layers, expected, 'loaded image has the generated diff_ids');

  const push = await dk.ok(['push', o.ref], { config: o.config });
  const digest = pushedDigest(push.output, o.tag);
  t.ok(digest, `docker push printed the manifest digest (${digest?.slice(0, 19)})`);
  // The registry (through portcullis) serves that manifest under the tag.
  const { fetchInsecure } = await import('./processes.js');
  const auth = o.config ? await basicFromConfig(o.config, new URL(o.origin).host) : undefined;
  const head = await fetchInsecure(`${o.origin}/v2/${o.repo}/manifests/${o.tag}`, {
    method: 'HEAD',
    headers: {
      accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
      ...(auth ? { authorization: auth } : {}),
    },
  });
  t.equal(head.status, 200, 'HEAD manifest by tag');
  t.equal(head.headers['docker-content-digest'], digest, 'registry serves the digest docker printed');

  await dk.ok(['rmi', o.ref]);
  t.equal(await inspectImage(dk, o.ref), null, 'image removed locally');

  const pull = await dk.ok(['pull', o.ref], { config: o.config });
  t.match(pull.output, /Downloaded newer image|Pull complete/, 'docker pull downloaded the layers');
  t.match(pull.output, `Digest: ${digest}`, 'pull reports the pushed digest');
  const after = await inspectImage(dk, o.ref);
  t.ok(after, 'pulled image is present');
  t.equal(after?.Id, before?.Id, 'same image ID (config digest) as the original');
  t.same(after?.RootFS.Layers, expected, 'pulled layers have the original diff_ids');
  t.ok(after?.RepoDigests.includes(`${o.ref.replace(/:[^:/]+$/, '')}@${digest}`), `RepoDigests names ${o.repo}@digest`);
  if (o.save)
    t.same(await savedLayerDigests(dk, o.ref, o.work), expected, 'docker save: every layer tar hashes to its diff_id');
  return digest!;
}

/** The Basic authorization docker login saved in a DOCKER_CONFIG for `host`, if any. */
export async function basicFromConfig(config: string, host: string): Promise<string | undefined> {
  const file = await readFile(join(config, 'config.json'), 'utf8').catch(() => '');
  if (!file) return undefined;
  const auth = JSON.parse(file).auths?.[host]?.auth;
  return auth ? `Basic ${auth}` : undefined;
}
