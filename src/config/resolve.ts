/**
 * Checks that need more than a type: addresses parse, files exist, combinations make sense.
 * Produces the parsed forms the server needs, so nothing downstream re-parses strings.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { availableParallelism } from 'node:os';
import { readTokenKeyFile } from '../auth/token-keys.js';
import type { BlockList } from 'node:net';
import { ConfigError, type Config } from './load.js';
import { parseListen, parseUpstream, parseCidrs, isLoopback, type ListenAddress } from './addresses.js';
import { parseS3Url } from '../registry/storage/location.js';
import { loadCredentials, parseMirrors, parseSize, type MirrorSpec } from '../mirror/mirror-config.js';
import { InvalidValue } from '../oci/invalid-value.js';

export interface Resolved {
  config: Config;
  listen: ListenAddress[];
  redirectHttp?: ListenAddress;
  upstreams: URL[];
  publicUrl?: URL;
  trustedProxies: BlockList;
  statsAllow: BlockList;
  tls: boolean;
  authScheme: 'basic' | 'token';
  mirrors: MirrorSpec[];
  mirrorMaxBytes?: number;
  /** Worker processes; 1 runs everything in this process. */
  workers: number;
}

function attempt<T>(option: keyof Config, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // A value the parser refused is the option's fault; anything else is a bug and goes on as it is.
    if (e instanceof InvalidValue) throw new ConfigError(option, e.message);
    throw e;
  }
}

function readable(option: keyof Config, path: string | undefined): void {
  if (!path) return;
  attempt(option, () => {
    try {
      accessSync(path, constants.R_OK);
    } catch (e) {
      throw new InvalidValue(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  });
}

export function resolveConfig(config: Config): Resolved {
  if (config.listen.length === 0) throw new ConfigError('listen', 'at least one address is needed');
  const listen = config.listen.map((v) => attempt('listen', () => parseListen(v)));
  const redirectHttp = config.redirectHttp
    ? attempt('redirectHttp', () => parseListen(config.redirectHttp!))
    : undefined;
  const upstreams = config.upstream.map((v) => attempt('upstream', () => parseUpstream(v)));
  const publicUrl = config.publicUrl
    ? attempt('publicUrl', () => {
        const u = URL.canParse(config.publicUrl!) ? new URL(config.publicUrl!) : undefined;
        if (!u)
          throw new InvalidValue(`"${config.publicUrl}" is not a URL (expected e.g. https://registry.example.com)`);
        if (u.pathname !== '/' || u.search)
          throw new InvalidValue('must be an origin such as https://registry.example.com');
        return u;
      })
    : undefined;
  for (const w of [...config.webhook, ...(config.errorWebhook ? [config.errorWebhook] : [])])
    attempt(config.webhook.includes(w) ? 'webhook' : 'errorWebhook', () => parseUpstream(w, true));
  const trustedProxies = attempt('trustedProxies', () => parseCidrs(config.trustedProxies));
  const statsAllow = attempt('statsAllow', () => parseCidrs(config.statsAllow));
  if (config.tlsCert && !config.tlsKey) throw new ConfigError('tlsKey', 'is required with --tls-cert');
  if (config.tlsKey && !config.tlsCert) throw new ConfigError('tlsCert', 'is required with --tls-key');
  if (config.tlsSelfSigned && config.tlsCert)
    throw new ConfigError('tlsSelfSigned', 'cannot be combined with --tls-cert');
  readable('tlsCert', config.tlsCert);
  readable('tlsKey', config.tlsKey);
  readable('htpasswd', config.htpasswd);
  readable('access', config.access);
  const tls = Boolean(config.tlsCert || config.tlsSelfSigned);
  if (redirectHttp && !tls)
    throw new ConfigError('redirectHttp', 'needs TLS (--tls-cert/--tls-key or --tls-self-signed)');
  if (config.anonymousRead && !config.htpasswd)
    throw new ConfigError('anonymousRead', 'only makes sense with --htpasswd');
  if (config.tokenKey) {
    if (!config.htpasswd) throw new ConfigError('tokenKey', 'needs --htpasswd (tokens are only issued to its users)');
    const file = config.tokenKey;
    // An existing file must hold valid keys; a missing one is created at start-up, so its directory must exist.
    if (existsSync(file)) attempt('tokenKey', () => readTokenKeyFile(file));
    else if (!existsSync(dirname(file))) throw new ConfigError('tokenKey', `directory ${dirname(file)} does not exist`);
  }
  if (config.access && !config.htpasswd) throw new ConfigError('access', 'needs --htpasswd to know who users are');
  const exposed = listen.find((l) => !isLoopback(l.host));
  if (exposed && !config.htpasswd && !config.insecureNoAuth) {
    throw new ConfigError(
      'listen',
      `${exposed.host}:${exposed.port} is reachable from other machines but no --htpasswd is set; add --htpasswd FILE or --insecure-no-auth`,
    );
  }
  if (config.corsOrigin.includes('*') && config.corsCredentials)
    throw new ConfigError(
      'corsOrigin',
      '"*" cannot be combined with credentials; list exact origins or pass --no-cors-credentials',
    );
  if (config.storage.startsWith('s3://')) {
    attempt('storage', () => parseS3Url(config.storage));
    if (config.s3Endpoint) attempt('s3Endpoint', () => parseUpstream(config.s3Endpoint!));
  } else {
    for (const o of ['s3Endpoint', 's3Region', 's3ForcePathStyle', 's3ChecksumMode'] as const) {
      if (config[o] !== undefined) throw new ConfigError(o, 'needs an s3://BUCKET/PREFIX --storage');
    }
    if (config.storageRedirect) throw new ConfigError('storageRedirect', 'needs an s3://BUCKET/PREFIX --storage');
  }
  if (config.storageRedirectBase) {
    if (!config.storageRedirect)
      throw new ConfigError('storageRedirectBase', 'only makes sense with --storage-redirect');
    attempt('storageRedirectBase', () => parseUpstream(config.storageRedirectBase!, true));
  }
  const mirrors = attempt('mirror', () => parseMirrors(config.mirror));
  if (mirrors.length && upstreams.length)
    throw new ConfigError('mirror', 'needs the embedded registry (it caches into --storage); drop --upstream');
  if (config.mirrorDefault !== undefined && !mirrors.some((m) => m.prefix === config.mirrorDefault))
    throw new ConfigError('mirrorDefault', `"${config.mirrorDefault}" is not the PREFIX of any --mirror`);
  for (const o of ['mirrorMaxSize', 'mirrorCredentials'] as const)
    if (config[o] !== undefined && !mirrors.length) throw new ConfigError(o, 'only makes sense with --mirror');
  const mirrorMaxBytes = config.mirrorMaxSize
    ? attempt('mirrorMaxSize', () => parseSize(config.mirrorMaxSize!))
    : undefined;
  const credentials = attempt('mirrorCredentials', () => loadCredentials(mirrors, config.mirrorCredentials));
  for (const m of mirrors) m.credentials = credentials.get(m.prefix);
  const workers = attempt('workers', () => parseWorkers(config.workers));
  const authScheme = (config.authScheme as 'basic' | 'token' | undefined) ?? (config.anonymousRead ? 'token' : 'basic');
  return {
    config,
    listen,
    redirectHttp,
    upstreams,
    publicUrl,
    trustedProxies,
    statsAllow,
    tls,
    authScheme,
    mirrors,
    mirrorMaxBytes,
    workers,
  };
}

/** "auto" is one per core the process may use; a number is taken as given, up to a sane bound. */
function parseWorkers(value: string): number {
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256)
    throw new InvalidValue(`expected a number from 1 to 256 or "auto", got "${value}"`);
  return n;
}
