/**
 * What `--mirror PREFIX=URL`, `--mirror-default`, `--mirror-max-size` and `--mirror-credentials`
 * mean once parsed. Each parser throws a plain Error whose message the config layer prefixes
 * with the flag's name.
 */
import { readFileSync } from 'node:fs';
import { parseYaml } from '../yaml-text.js';
import { isRepositoryName } from '../oci/names.js';
import { InvalidValue } from '../oci/invalid-value.js';

export interface RemoteCredentials {
  username: string;
  password: string;
}

export interface MirrorSpec {
  /** Local repository prefix: `docker pull HOST/PREFIX/library/alpine` is `library/alpine` on the remote. */
  prefix: string;
  /** The remote registry's origin, e.g. https://registry-1.docker.io. */
  url: URL;
  credentials?: RemoteCredentials;
}

/** `PREFIX=URL`: PREFIX is one or more repository path components, URL an http(s) origin. */
export function parseMirror(value: string): MirrorSpec {
  const eq = value.indexOf('=');
  if (eq <= 0)
    throw new InvalidValue(`expected PREFIX=URL (e.g. dockerhub=https://registry-1.docker.io), got "${value}"`);
  const prefix = value.slice(0, eq).replace(/\/+$/, '');
  const raw = value.slice(eq + 1);
  if (!isRepositoryName(prefix))
    throw new InvalidValue(`"${prefix}" is not a valid repository prefix (lowercase a-z0-9._-/)`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidValue(`"${raw}" is not a URL (e.g. https://registry-1.docker.io)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidValue(`"${raw}" must be http:// or https://`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.username || url.password)
    throw new InvalidValue(`"${raw}" must be an origin without path, query or credentials (use --mirror-credentials)`);
  return { prefix, url };
}

/** Every mirror, checked against each other: unique prefixes, none inside another. */
export function parseMirrors(values: string[]): MirrorSpec[] {
  const out = values.map(parseMirror);
  for (const a of out) {
    for (const b of out) {
      if (a === b) continue;
      if (a.prefix === b.prefix) throw new InvalidValue(`prefix "${a.prefix}" is given twice`);
      if (b.prefix.startsWith(`${a.prefix}/`)) throw new InvalidValue(`prefix "${b.prefix}" lies inside "${a.prefix}"`);
    }
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "500MiB", "20GB", "1.5TiB", or a bare number of bytes. */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidValue(`not a size: "${value}" (use e.g. 500MiB, 20GiB, 1TB)`);
  return Math.floor(Number(m[1]) * unit);
}

/**
 * Credentials per prefix, from a YAML/JSON file (`PREFIX: {username, password}`) and from the
 * environment (`PORTCULLIS_MIRROR_AUTH_<PREFIX>=user:password`, PREFIX upper-cased with
 * non-alphanumerics as `_`); the environment wins. Messages never contain a password.
 */
export function loadCredentials(
  mirrors: MirrorSpec[],
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, RemoteCredentials> {
  const out = new Map<string, RemoteCredentials>();
  const prefixes = new Set(mirrors.map((m) => m.prefix));
  if (file) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (e) {
      // The YAML parser's errors carry a code too (BAD_INDENT...); only a system call's is a read failure.
      const err = e as NodeJS.ErrnoException;
      throw new InvalidValue(err.syscall ? `cannot read ${file}: ${err.code}` : `${file} is not YAML or JSON`);
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw new InvalidValue(`${file} must map each mirror prefix to {username, password}`);
    for (const [prefix, v] of Object.entries(doc as Record<string, unknown>)) {
      if (!prefixes.has(prefix)) throw new InvalidValue(`${file} names "${prefix}", which is not a --mirror prefix`);
      const c = v as Partial<RemoteCredentials> | null;
      if (!c || typeof c.username !== 'string' || typeof c.password !== 'string')
        throw new InvalidValue(`${file}: "${prefix}" needs a username and a password (strings)`);
      out.set(prefix, { username: c.username, password: c.password });
    }
  }
  for (const prefix of prefixes) {
    const v = env[credentialsEnvName(prefix)];
    if (!v) continue;
    const colon = v.indexOf(':');
    if (colon <= 0) throw new InvalidValue(`${credentialsEnvName(prefix)} must be USER:PASSWORD`);
    out.set(prefix, { username: v.slice(0, colon), password: v.slice(colon + 1) });
  }
  return out;
}

/** Environment variables that carry one mirror's credentials start with this (not options of their own). */
export const MIRROR_AUTH_ENV = 'PORTCULLIS_MIRROR_AUTH_';

export function credentialsEnvName(prefix: string): string {
  return `${MIRROR_AUTH_ENV}${prefix.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
