/**
 * The full command line, with yargs: help, version, the subcommands, and every argument list
 * the fast path of serve-args.ts leaves to it (so yargs' messages for wrong flags stay the
 * ones users see). Loaded only when needed: a server started with plain flags never loads it.
 */
import yargs, { type Argv } from 'yargs';
import { OPTIONS, type OptionSpec, flagName, envName } from '../config/options.js';
import { formatDuration } from '../config/duration.js';
import { ConfigError, closest } from '../config/load.js';
import { configJsonSchema } from './schema.js';
import { htpasswdCommand } from './htpasswd-command.js';
import { gcCommand } from './gc-command.js';
import { retentionOnce } from './retention-command.js';
import { VERSION } from '../version.js';
import { fail, load, runServe } from './serve.js';
import { checkStartUpRules } from './start-up-rules.js';
import { resolveConfig } from '../config/resolve.js';
import { toYaml } from '../yaml-text.js';
import { OptionError } from '../startup-error.js';

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

/** `on` replaces what serving and failing do (tests compare what yargs hands to serve with the fast path). */
export async function runCli(
  args: string[],
  on: { serve?: (argv: Record<string, unknown>) => unknown; fail?: (message: string) => never } = {},
): Promise<void> {
  const serve = on.serve ?? runServe;
  const failWith = on.fail ?? fail;
  const cli = yargs(args)
    .scriptName('portcullis')
    .usage(
      '$0 [command] [options]\n\nThe gate in front of a private container registry. Without --upstream it is the registry.',
    )
    .command('$0', 'serve the registry API (default command)', withOptions, async (argv) => {
      await serve(argv);
    })
    .command('serve', 'serve the registry API', withOptions, async (argv) => {
      await serve(argv);
    })
    .command(
      'check-config',
      'validate flags, env and config file and print the effective configuration',
      withOptions,
      async (argv) => {
        await checkConfig(argv);
      },
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
      failWith(err?.message ?? explainUsage(msg));
    });
  await cli.parseAsync();
}
