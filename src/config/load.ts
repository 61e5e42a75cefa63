/**
 * One typed Config from defaults < file < environment < flags.
 * Every error names the flag and the environment variable it came from, in one line.
 */
import { readFileSync } from 'node:fs';
import { parseYaml } from '../yaml-text.js';
import { OPTIONS, type OptionName, type OptionSpec, flagName, envName } from './options.js';
import { MIRROR_AUTH_ENV } from '../mirror/mirror-config.js';
import { parseDuration } from './duration.js';
import { InvalidValue } from '../oci/invalid-value.js';
import { OptionError } from '../startup-error.js';

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['type'] extends 'number' | 'duration'
    ? number
    : S['type'] extends 'list'
      ? string[]
      : S['type'] extends 'rules'
        ? unknown
        : string;

export type Config = {
  [K in OptionName]: (typeof OPTIONS)[K] extends { default: unknown }
    ? ValueOf<(typeof OPTIONS)[K]>
    : ValueOf<(typeof OPTIONS)[K]> | undefined;
};

export type Source = 'default' | 'file' | 'env' | 'flag';

/** An option that is wrong where it was given: the message names the flag and its environment variable. */
export class ConfigError extends OptionError {
  constructor(option: string, reason: string) {
    super(
      option,
      reason,
      option in OPTIONS ? `--${flagName(option)} (${envName(option)}): ${reason}` : `${option}: ${reason}`,
    );
  }
}

function coerce(name: OptionName, raw: unknown, from: Source): unknown {
  const spec: OptionSpec = OPTIONS[name];
  const fail = (why: string) => {
    throw new ConfigError(name, `${why}${from === 'file' ? ' (in the config file)' : ''}`);
  };
  switch (spec.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no|off)$/i.test(raw)) return false;
      return fail(`expected true or false, got "${String(raw)}"`);
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(n) || n < 0) fail(`expected a non-negative number, got "${String(raw)}"`);
      return n;
    }
    case 'duration':
      try {
        return parseDuration(raw as string | number);
      } catch (e) {
        if (e instanceof InvalidValue) return fail(e.message);
        throw e;
      }
    case 'list': {
      const items = Array.isArray(raw) ? raw : from === 'env' ? String(raw).split(',') : [raw];
      return items
        .flatMap((v) => (typeof v === 'string' && from !== 'flag' ? v.split(',') : [v]))
        .map((v) => String(v).trim())
        .filter((v) => v !== '');
    }
    case 'rules': {
      if (typeof raw !== 'string') return raw;
      try {
        return parseYaml(raw);
      } catch (e) {
        return fail(`not YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    default: {
      if (typeof raw !== 'string' && typeof raw !== 'number') fail(`expected a string, got ${JSON.stringify(raw)}`);
      const s = String(raw);
      if (spec.choices && !spec.choices.includes(s)) fail(`must be one of ${spec.choices.join(', ')}, got "${s}"`);
      return s;
    }
  }
}

export function closest(word: string, candidates: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = candidates
    .map((c) => [c, dist(word.toLowerCase(), c.toLowerCase())] as const)
    .sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 3 ? best[0] : undefined;
}

/** Read a YAML/JSON config file; with named sections, merge `common` and the flavor. */
export function readConfigFile(path: string, flavor?: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError('config', `cannot read ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError('config', `${path} must hold a mapping of option names to values`);
  const obj = doc as Record<string, unknown>;
  const sectioned = 'common' in obj || (flavor !== undefined && flavor in obj);
  if (!sectioned) {
    if (flavor) throw new ConfigError('flavor', `section "${flavor}" not found in ${path}`);
    return obj;
  }
  const section = (name: string) => {
    const s = obj[name] ?? {};
    if (typeof s !== 'object' || Array.isArray(s))
      throw new ConfigError('config', `section "${name}" in ${path} must be a mapping`);
    return s as Record<string, unknown>;
  };
  if (flavor && !(flavor in obj))
    throw new ConfigError('flavor', `section "${flavor}" not found in ${path} (has: ${Object.keys(obj).join(', ')})`);
  return { ...section('common'), ...(flavor ? section(flavor) : {}) };
}

export interface LoadInput {
  /** Flags as parsed by yargs (camelCase keys), only the ones given on the command line. */
  flags: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
}

export function loadConfig({ flags, env }: LoadInput): { config: Config; sources: Record<OptionName, Source> } {
  const values: Record<string, unknown> = {};
  const sources = {} as Record<OptionName, Source>;
  const names = Object.keys(OPTIONS) as OptionName[];
  for (const name of names) {
    const spec: OptionSpec = OPTIONS[name];
    if ('default' in spec) {
      values[name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
      sources[name] = 'default';
    }
  }
  const configPath = (flags.config as string | undefined) ?? env[envName('config')];
  const flavor = (flags.flavor as string | undefined) ?? env[envName('flavor')];
  if (configPath) {
    const file = readConfigFile(configPath, flavor);
    for (const [key, raw] of Object.entries(file)) {
      if (!(key in OPTIONS)) {
        const hint = closest(key, names);
        throw new ConfigError(
          'config',
          `unknown option "${key}" in ${configPath}${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
      values[key] = coerce(key as OptionName, raw, 'file');
      sources[key as OptionName] = 'file';
    }
  }
  for (const name of names) {
    const raw = env[envName(name)];
    if (raw !== undefined && raw !== '') {
      values[name] = coerce(name, raw, 'env');
      sources[name] = 'env';
    }
  }
  for (const [key, raw] of Object.entries(flags)) {
    if (!(key in OPTIONS) || raw === undefined) continue;
    values[key] = coerce(key as OptionName, raw, 'flag');
    sources[key as OptionName] = 'flag';
  }
  for (const key of Object.keys(env)) {
    if (key.startsWith(MIRROR_AUTH_ENV)) continue; // one mirror's credentials, read with --mirror-credentials
    if (key.startsWith('PORTCULLIS_') && !names.some((n) => envName(n) === key)) {
      const hint = names.map(envName).find((e) => closest(key, [e]));
      throw new ConfigError(key, `unknown environment variable${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
  }
  return { config: values as Config, sources };
}
