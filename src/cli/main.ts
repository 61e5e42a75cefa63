/**
 * The command line: `portcullis [serve]` (default), `htpasswd`, `gc`, `retention`, `check-config`,
 * `config-schema`. Every flag comes from src/config/options.ts; a wrong flag or value ends
 * the process with one line naming it, exit code 2.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { toYaml } from '../yaml-text.js';
import { OPTIONS, type OptionSpec, flagName, envName } from '../config/options.js';
import { formatDuration } from '../config/duration.js';
import { loadConfig, ConfigError, closest, type Config } from '../config/load.js';
import { resolveConfig } from '../config/resolve.js';
import { createAppLogger } from '../gateway/access-log.js';
import { run } from '../server/run.js';
import cluster from 'node:cluster';
import { startPrimary } from '../server/cluster-primary.js';
import { joinGroup } from '../server/cluster-worker.js';
import { configJsonSchema } from './schema.js';
import { htpasswdCommand } from './htpasswd-command.js';
import { gcCommand } from './gc-command.js';
import { retentionOnce } from './retention-command.js';
import { checkStartUpRules } from './start-up-rules.js';
import { VERSION } from '../version.js';
import { OptionError } from '../startup-error.js';

const EXIT_USAGE = 2;

function fail(message: string): never {
  process.stderr.write(`portcullis: ${message.split('\n')[0]}\n`);
  process.exit(EXIT_USAGE);
}

/** yargs says "Unknown arguments: such-flag, suchFlag"; say which flag and what was probably meant. */
function explainUsage(msg: string): string {
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  if (!m) return msg;
  const flag = m[1]!.split(', ')[0]!;
  const flags = Object.keys(OPTIONS).map(flagName);
  const hint = closest(flag, flags);
  return `--${flag}: unknown option${hint ? ` (did you mean --${hint}?)` : ''}; see portcullis --help`;
}

function describeDefault(spec: OptionSpec): string {
  if (spec.default === undefined) return '';
  if (spec.type === 'duration') return formatDuration(spec.default as number);
  if (Array.isArray(spec.default)) return spec.default.length ? spec.default.join(',') : '';
  return String(spec.default);
}

function withOptions(y: Argv): Argv {
  for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec][]) {
    const def = describeDefault(spec);
    y.option(flagName(name), {
      type:
        spec.type === 'boolean'
          ? 'boolean'
          : spec.type === 'list'
            ? 'array'
            : spec.type === 'number'
              ? 'number'
              : 'string',
      describe: `${spec.describe}\n[env ${envName(name)}]${def ? ` [default: ${def}]` : ''}${spec.type === 'duration' ? ' (duration: 30s, 15m)' : ''}`,
      group: `${spec.group}:`,
      choices: spec.choices as string[] | undefined,
      ...(spec.type === 'list' ? { string: true } : {}),
    });
  }
  return y;
}

/** Only the options given on the command line, by camelCase name (yargs adds both spellings). */
function givenFlags(argv: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(OPTIONS)) if (argv[name] !== undefined) out[name] = argv[name];
  return out;
}

function load(argv: Record<string, unknown>): { config: Config; sources: Record<string, string> } {
  try {
    return loadConfig({ flags: givenFlags(argv), env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

async function runServe(argv: Record<string, unknown>): Promise<void> {
  const { config } = load(argv);
  let resolved: ReturnType<typeof resolveConfig> | undefined;
  try {
    resolved = resolveConfig(config);
  } catch (e) {
    if (e instanceof OptionError) fail(e.message);
    throw e;
  }
  const logger = createAppLogger(config.logLevel);
  if (resolved.workers > 1 && cluster.isPrimary) {
    // This process supervises; each worker runs this same command and takes the branch below.
    const group = startPrimary(resolved, logger);
    await group.ready.catch((e: Error & { exitCode?: number }) => {
      logger.fatal(e.message);
      process.exit(e.exitCode ?? 1);
    });
    process.stderr.write(`portcullis ${VERSION}: ${resolved.workers} workers (primary pid ${process.pid})\n`);
    return;
  }
  const group = joinGroup();
  try {
    const running = await run(resolved, logger, group);
    // One banner per group, not one per worker.
    if (group && !group.leader) return;
    const backend = resolved.upstreams.length
      ? `upstream ${resolved.upstreams.map((u) => u.origin).join(', ')}`
      : `embedded registry, storage ${config.storage}`;
    const hostPort = new URL(running.urls[0]!).host;
    process.stderr.write(`portcullis ${VERSION} serving ${running.urls.join(', ')} (${backend})\n`);
    process.stderr.write(`  push:  docker tag IMAGE ${hostPort}/IMAGE && docker push ${hostPort}/IMAGE\n`);
    process.stderr.write(
      `  stats: ${running.urls[0]}${config.dashboardPath}  ${running.urls[0]}${config.statsPath}  ${running.urls[0]}${config.metricsPath}\n`,
    );
  } catch (e) {
    if (e instanceof OptionError) fail(e.message);
    logger.fatal({ err: e }, 'start-up failed');
    process.exit(1);
  }
}

async function checkConfig(argv: Record<string, unknown>): Promise<void> {
  const { config, sources } = load(argv);
  try {
    resolveConfig(config);
    await checkStartUpRules(config);
  } catch (e) {
    if (e instanceof OptionError) fail(e.message);
    throw e;
  }
  const shown: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec][]) {
    let v = (config as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if (spec.secret) v = '********';
    if (spec.type === 'duration') v = formatDuration(v as number);
    shown[name] = v;
  }
  const doc = toYaml(shown)
    .split('\n')
    .map((line) => {
      const key = /^(\w+):/.exec(line)?.[1];
      return key && sources[key] && sources[key] !== 'default' ? `${line}  # from ${sources[key]}` : line;
    })
    .join('\n');
  process.stdout.write(`# portcullis ${VERSION}: configuration is valid\n${doc}`);
}

export async function main(args = hideBin(process.argv)): Promise<void> {
  const cli = yargs(args)
    .scriptName('portcullis')
    .usage(
      '$0 [command] [options]\n\nThe gate in front of a private container registry. Without --upstream it is the registry.',
    )
    .command('$0', 'serve the registry API (default command)', withOptions, (argv) => runServe(argv))
    .command('serve', 'serve the registry API', withOptions, (argv) => runServe(argv))
    .command(
      'check-config',
      'validate flags, env and config file and print the effective configuration',
      withOptions,
      (argv) => checkConfig(argv),
    )
    .command('config-schema', 'print the JSON schema of the config file', {}, () => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    })
    .command(htpasswdCommand)
    .command(gcCommand)
    .command(
      'retention',
      'apply the retention rules once and run gc (same flags and config file as the server)',
      (y) =>
        withOptions(y).option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'print the tags that would go and the bytes freed; delete nothing',
        }),
      async (argv) => {
        const { config } = load(argv);
        await retentionOnce(config, Boolean(argv['dry-run']), fail);
      },
    )
    .example('$0', 'embedded registry on 127.0.0.1:5000, storage in ./data')
    .example(
      '$0 --upstream http://127.0.0.1:5000 --listen 0.0.0.0:443 --tls-cert cert.pem --tls-key key.pem --htpasswd users.htpasswd',
      'replace nginx in front of registry:2',
    )
    .env(false)
    .strict()
    .parserConfiguration({ 'boolean-negation': true, 'duplicate-arguments-array': true, 'camel-case-expansion': true })
    .version(VERSION)
    .help()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err && !(err instanceof ConfigError)) throw err;
      fail(err?.message ?? explainUsage(msg));
    });
  await cli.parseAsync();
}
