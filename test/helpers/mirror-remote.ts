/**
 * A stand-in for Docker Hub on loopback: registry:2 behind a second portcullis that demands
 * credentials with the token scheme (401 with a Bearer realm/service/scope challenge, tokens
 * from its /token endpoint), so a mirror in front of it does the real token dance. Its access
 * log (JSON lines) is how tests count what reached the remote.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  execFileP,
  freePort,
  skopeo,
  startPortcullis,
  startRegistry2,
  tempDir,
  removeDir,
  type Running,
} from './processes.js';

export const REMOTE_USER = 'puller';
export const REMOTE_PASSWORD = 'Remote-Secret-42';

export interface Remote {
  url: string;
  host: string;
  /** Push an OCI layout's tag to NAME:TAG on the remote (skopeo, with credentials). */
  push(ociDir: string, ociTag: string, ref: string): Promise<void>;
  /** Requests that reached the remote portcullis, from its access log. */
  requests(): Promise<{ method: string; path: string; status: number }[]>;
  /** GETs of blobs (with a 200, 206 or 307) the remote served. */
  blobGets(digest?: string): Promise<number>;
  /** Stop the gateway (the remote becomes unreachable) and bring it back on the same port. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  stop(): Promise<void>;
  /** PIDs of the remote's gateway and registry:2 (for CPU accounting in benchmarks). */
  pids(): number[];
}

export async function startRemote(): Promise<Remote> {
  const work = await tempDir('mirror-remote-');
  const htpasswd = join(work, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, REMOTE_USER, REMOTE_PASSWORD]);
  const registry = await startRegistry2();
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const log = join(work, 'access.log');
  let gw: Running | undefined;
  const startGateway = async () => {
    gw = await startPortcullis(
      [
        '--upstream',
        registry.url,
        '--listen',
        host,
        '--htpasswd',
        htpasswd,
        '--auth-scheme',
        'token',
        '--access-log',
        log,
        '--brute-force-max',
        '1000',
      ],
      { probe: `${url}/_ping` },
    );
  };
  await startGateway();
  // The access log reaches the file within a second (batched writes).
  const requests = async () => {
    await new Promise((r) => setTimeout(r, 1200));
    return (await readFile(log, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { method: string; path: string; status: number });
  };
  return {
    url,
    host,
    async push(ociDir, ociTag, ref) {
      await skopeo([
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${REMOTE_USER}:${REMOTE_PASSWORD}`,
        '--preserve-digests',
        `oci:${ociDir}:${ociTag}`,
        `docker://${host}/${ref}`,
      ]);
    },
    requests,
    async blobGets(digest) {
      return (await requests()).filter(
        (r) =>
          r.method === 'GET' &&
          /\/blobs\/sha256:/.test(r.path) &&
          (!digest || r.path.endsWith(digest)) &&
          [200, 206, 307].includes(r.status),
      ).length;
    },
    async stopGateway() {
      await gw?.stop();
      gw = undefined;
    },
    startGateway,
    pids: () => [registry.pid, ...(gw ? [gw.pid] : [])],
    async stop() {
      await gw?.stop();
      await registry.stop();
      await removeDir(work);
    },
  };
}

/** A credentials file for --mirror-credentials naming the remote's user. */
export async function writeCredentials(dir: string, prefix: string): Promise<string> {
  const file = join(dir, 'mirror-credentials.yaml');
  await writeFile(file, `${prefix}:\n  username: ${REMOTE_USER}\n  password: ${REMOTE_PASSWORD}\n`, { mode: 0o600 });
  return file;
}
