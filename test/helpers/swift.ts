/**
 * A real single-node OpenStack Swift with its S3 API (s3api + tempauth), on loopback ports
 * chosen here, for the S3 driver tests. Debian packages (swift, swift-proxy, swift-object,
 * swift-container, swift-account, memcached; scripts/install-test-deps.sh installs them).
 *
 *   const swift = await startSwift();          // ~40 s the first time (rings, five daemons)
 *   swift.endpoint                             // http://127.0.0.1:<port>, path-style, us-east-1
 *   swift.accessKey / swift.secretKey          // test:tester / testing
 *   await swift.createBucket('b'); ... await swift.stop();
 *
 * Start it once per test file and reuse it (a bucket per test). Everything lives in a temp
 * directory and is stopped by PID; the only shared file is /etc/swift/swift.conf, whose path
 * Swift hard-codes (hash prefix/suffix and storage policy): written when it differs (root).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import {
  S3Client,
  CreateBucketCommand,
  DeleteBucketCommand,
  ListObjectsV2Command,
  DeleteObjectCommand,
} from '@aws-sdk/client-s3';
import { execFileP, freePort, hasCommand, removeDir, startProcess, tempDir, type Running } from './processes.js';

export interface Swift {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Environment for a child process using the standard AWS credential chain. */
  env: Record<string, string>;
  /** The registry core's `s3` option for this Swift. */
  s3: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  client: S3Client;
  createBucket(name?: string): Promise<string>;
  /** Every key in a bucket (for tests that look at what is stored). */
  listKeys(bucket: string, prefix?: string): Promise<{ key: string; size: number }[]>;
  emptyBucket(bucket: string): Promise<void>;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

const DAEMONS = [
  'swift-proxy-server',
  'swift-object-server',
  'swift-container-server',
  'swift-account-server',
  'swift-ring-builder',
  'memcached',
];

/** Why Swift cannot run here, or null when it can. */
export function swiftMissing(): string | null {
  const missing = DAEMONS.filter((d) => !hasCommand(d));
  return missing.length
    ? `OpenStack Swift is not installed (missing ${missing.join(', ')}; run scripts/install-test-deps.sh)`
    : null;
}

const SWIFT_CONF = `[swift-hash]
swift_hash_path_prefix = portcullis-test-prefix
swift_hash_path_suffix = portcullis-test-suffix

[storage-policy:0]
name = Policy-0
default = yes
`;

async function ensureSwiftConf(): Promise<void> {
  const path = '/etc/swift/swift.conf';
  const current = await readFile(path, 'utf8').catch(() => null);
  // Any valid hash config works for a throwaway cluster; only write one when there is none
  // usable (the Debian package ships one without the hash settings).
  if (current && /swift_hash_path_(prefix|suffix)\s*=\s*\S/.test(current)) return;
  await mkdir('/etc/swift', { recursive: true });
  if (current !== null && !existsSync('/etc/swift/swift.conf.orig'))
    await writeFile('/etc/swift/swift.conf.orig', current);
  await writeFile(path, SWIFT_CONF);
}

function common(ip: string, port: number, name: string, etc: string, srv: string): string {
  return [
    '[DEFAULT]',
    `bind_ip = ${ip}`,
    `bind_port = ${port}`,
    'workers = 1',
    `user = ${userInfo().username}`,
    `swift_dir = ${etc}`,
    `devices = ${srv}`,
    'mount_check = false',
    'disable_fallocate = true',
    `log_name = ${name}`,
    'log_level = WARNING',
    '',
  ].join('\n');
}

function server(kind: 'object' | 'container' | 'account', ip: string, port: number, etc: string, srv: string): string {
  return (
    common(ip, port, `${kind}-server`, etc, srv) +
    [
      '[pipeline:main]',
      `pipeline = healthcheck ${kind}-server`,
      '',
      `[app:${kind}-server]`,
      `use = egg:swift#${kind}`,
      '',
      '[filter:healthcheck]',
      'use = egg:swift#healthcheck',
      '',
    ].join('\n')
  );
}

function proxy(ip: string, port: number, mcPort: number, etc: string): string {
  return [
    '[DEFAULT]',
    `bind_ip = ${ip}`,
    `bind_port = ${port}`,
    'workers = 1',
    `user = ${userInfo().username}`,
    `swift_dir = ${etc}`,
    'log_name = proxy-server',
    'log_level = WARNING',
    '',
    '[pipeline:main]',
    // s3api before tempauth (it turns S3 signatures into Swift auth); copy/slo/dlo after (multipart uploads are SLOs).
    'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server',
    '',
    '[app:proxy-server]',
    'use = egg:swift#proxy',
    'account_autocreate = true',
    'allow_account_management = true',
    '',
    '[filter:s3api]',
    'use = egg:swift#s3api',
    'location = us-east-1',
    '# the S3 rule: non-final multipart parts are at least 5 MiB',
    'min_segment_size = 5242880',
    '',
    '[filter:tempauth]',
    'use = egg:swift#tempauth',
    '# user_<account>_<user> = <key> [groups]: S3 access key "<account>:<user>", secret "<key>"',
    'user_test_tester = testing .admin',
    'user_test2_tester2 = testing2 .admin',
    '',
    '[filter:cache]',
    'use = egg:swift#memcache',
    `memcache_servers = ${ip}:${mcPort}`,
    '',
    ...Object.entries({
      catch_errors: 'catch_errors',
      gatekeeper: 'gatekeeper',
      healthcheck: 'healthcheck',
      'proxy-logging': 'proxy_logging',
      listing_formats: 'listing_formats',
      copy: 'copy',
      slo: 'slo',
      dlo: 'dlo',
    }).flatMap(([section, egg]) => [`[filter:${section}]`, `use = egg:swift#${egg}`, '']),
  ].join('\n');
}

async function waitFor(fn: () => Promise<boolean>, timeoutMs: number, procs: Running[], what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.proc.exitCode !== null);
    if (dead) throw new Error(`${what}: a Swift daemon exited (${dead.proc.exitCode}):\n${dead.output()}`);
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: timed out`);
}

export async function startSwift(): Promise<Swift> {
  const why = swiftMissing();
  if (why) throw new Error(why);
  await ensureSwiftConf();
  const ip = '127.0.0.1';
  const base = await tempDir('portcullis-swift-');
  const etc = join(base, 'etc');
  const srv = join(base, 'srv');
  await mkdir(join(srv, '1'), { recursive: true });
  await mkdir(etc, { recursive: true });
  const [proxyPort, objPort, contPort, accPort, mcPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  await writeFile(join(etc, 'object-server.conf'), server('object', ip, objPort, etc, srv));
  await writeFile(join(etc, 'container-server.conf'), server('container', ip, contPort, etc, srv));
  await writeFile(join(etc, 'account-server.conf'), server('account', ip, accPort, etc, srv));
  await writeFile(join(etc, 'proxy-server.conf'), proxy(ip, proxyPort, mcPort, etc));
  // One replica on one device: rings of 2^10 partitions.
  await Promise.all(
    (['object', 'container', 'account'] as const).map(async (ring) => {
      const port = { object: objPort, container: contPort, account: accPort }[ring];
      const builder = join(etc, `${ring}.builder`);
      await execFileP('swift-ring-builder', [builder, 'create', '10', '1', '1']);
      await execFileP('swift-ring-builder', [builder, 'add', `r1z1-${ip}:${port}/1`, '100']);
      await execFileP('swift-ring-builder', [builder, 'rebalance']);
    }),
  );

  const procs: Running[] = [];
  const mcUser = process.getuid?.() === 0 ? 'root' : userInfo().username;
  procs.push(startProcess('memcached', ['-l', ip, '-p', String(mcPort), '-U', '0', '-m', '64', '-u', mcUser]));
  for (const kind of ['account', 'container', 'object', 'proxy']) {
    procs.push(startProcess(`swift-${kind}-server`, [join(etc, `${kind}-server.conf`)]));
  }
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await removeDir(base);
  };
  const endpoint = `http://${ip}:${proxyPort}`;
  const region = 'us-east-1';
  const accessKey = 'test:tester';
  const secretKey = 'testing';
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    // Ready when the backends answer their healthchecks and a signed S3 ListBuckets succeeds.
    await waitFor(
      async () => {
        for (const p of [objPort, contPort, accPort]) {
          if ((await fetch(`http://${ip}:${p}/healthcheck`)).status !== 200) return false;
        }
        await client.send(new ListObjectsV2Command({ Bucket: 'portcullis-probe' })).catch((e) => {
          if ((e as { name?: string }).name !== 'NoSuchBucket') throw e;
        });
        return true;
      },
      90_000,
      procs,
      'starting Swift',
    );
  } catch (e) {
    const out = procs.map((p) => p.output()).join('\n');
    await stop();
    throw new Error(`${(e as Error).message}\n${out.slice(-4000)}`);
  }

  let n = 0;
  const listKeys = async (bucket: string, prefix?: string) => {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of r.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  };
  return {
    endpoint,
    region,
    accessKey,
    secretKey,
    client,
    stop,
    listKeys,
    env: { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: region },
    s3: { endpoint, region, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } },
    async createBucket(name?: string) {
      const bucket = name ?? `portcullis-${process.pid}-${++n}-${Date.now().toString(36)}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async emptyBucket(bucket: string) {
      for (const o of await listKeys(bucket))
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    },
    async logs() {
      return procs.map((p) => p.output()).join('\n');
    },
  };
}
